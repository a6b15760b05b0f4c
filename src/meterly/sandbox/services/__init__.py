"""The services the sandbox imitates, one module each: where their operations are served, how an answer
is wrapped, and how an error is shaped. Which service an operation belongs to is read from the registry
(`meterly.sandbox._routes`)."""
