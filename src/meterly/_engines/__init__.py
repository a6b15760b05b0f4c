"""The engines that send: one `Sender` seam (`meterly._engines.seam`), the same shape sync and async,
and the engines behind it.

The pipeline yields a `Call` (or an `httpx.Request` a hook or the debug log needed) and gets back an
`httpx.Response` or a `Received`; it never knows which engine sent. Every engine:

- bounds connect, headers and body of an attempt within the attempt's timeout, itself cut to what is
  left of the call's deadline (`Call.time_left`, or the `TIME_LEFT` extension of a hook's request);
- gives an injected client the SDK's attempt timeout whatever the client's own (`capped`);
- never follows a redirect, and clears key-bearing frame locals of the exceptions it raises;
- raises transport failures as `httpx.RequestError` subclasses (`never_sent` tells whether the request
  could have reached the server), and `ClosedWhileSending` (`meterly._wire`) for a send cut off by `close()`;
- can `discard` the connection that carried a response, so an answer that is not this request's never
  leaves a poisoned kept-alive connection behind.

Each optional engine (`httpx2`, `pyreqwest`, `aiohttp`) lives in its own module, imported only when it is
chosen or its client is passed in; its private-attribute needs (if any) live in one guarded `_compat`
module beside it.
"""
