"""Exchange simulator: Binance USDⓈ-M and Spot, Bybit v5, OKX v5, BingX, MEXC, WEEX on one port.

``SimulatorServer`` (``monitor.sim.server``) keeps the authoritative state (prices, positions,
balances; ``monitor.sim.world``), speaks each exchange's wire format (``monitor.sim.venues``),
plays scenarios (``monitor.sim.scenario``, ``monitor/sim/scenarios/*.json``) and injects faults.

URL layout. A venue's base URLs are ``ws://127.0.0.1:<port>/<venue>`` and
``http://127.0.0.1:<port>/<venue>``; what follows the prefix is the exchange's own path, so a
venue module pointed at the simulator builds exactly the paths (and signs exactly the strings) it
uses in production::

    venue          prefix          websocket paths after the prefix      REST paths after it
    binance        /binance        /public/ws/<s>, /public/stream?..     /fapi/v1/listenKey
                                   /market/ws/<s>, /market/stream?..     /fapi/v2|v3/positionRisk
                                   /private/ws?listenKey=<k>             /fapi/v2|v3/account
                                   /private/ws/<k>, /private/stream?..   /fapi/v2|v3/balance
                                                                         /fapi/v1/premiumIndex
    binance-spot   /binance-spot   /ws/<s>, /ws, /stream?streams=..      /api/v3/account
                                   /ws-api/v3 (WebSocket API)            /api/v3/ticker/bookTicker
    bybit          /bybit          /v5/public/linear, /v5/public/spot    /v5/position/list
                                   /v5/private                           /v5/account/wallet-balance
                                                                         /v5/market/tickers
    okx            /okx            /ws/v5/public, /ws/v5/private         /api/v5/account/positions
                                                                         /api/v5/account/balance
                                                                         /api/v5/public/mark-price

    bingx          /bingx          /swap-market[?listenKey=<k>] (gzip)   /openApi/swap/v2|v3/...
                                                                         /openApi/user/auth/userDataStream
    mexc           /mexc           /edge                                 /api/v1/private/...
                                                                         /api/v1/contract/...
    weex           /weex           /v3/ws/public, /v3/ws/private         /capi/v3/...
                                   (signed ACCESS-* handshake headers)

(``/bybit-spot`` is an alias of ``/bybit``: Bybit serves spot tickers from the same host.)
Production equivalents: ``wss://fstream.binance.com`` + ``https://fapi.binance.com``;
``wss://stream.binance.com:9443`` + ``wss://ws-api.binance.com:443`` + ``https://api.binance.com``;
``wss://stream.bybit.com`` + ``https://api.bybit.com``; ``wss://ws.okx.com:8443`` +
``https://www.okx.com``. For Binance Spot the WebSocket API lives on another host in production,
so a venue module should derive it from its own setting, not from the stream URL, and pointing
both at the simulator base works because both paths are served under ``/binance-spot``.

Margin figures the venues compute themselves (liquidation prices, maintenance margins, isolated
and cross wallets, tiers) come from ``monitor.sim.margin``, one rule class per venue written from
the venues' documents and independent of ``monitor.domain``; ``SimulatorServer.venue_figures``
answers them for a leg at the current mark. Positions are legs: ``one_way`` or the hedge-mode
``long`` and ``short`` legs, each venue writing its own side fields (Binance ``ps``/``positionSide``,
OKX ``posSide``, Bybit ``positionIdx``, BingX ``ps``/``positionSide``, MEXC ``positionType``, WEEX
``side``).

Authentication is checked like the exchanges do (API key, timestamp window, HMAC signature);
``SimulatorServer.credentials(venue, account)`` gives the credentials of a simulated account.
Quantities are in each venue's unit (OKX swaps in contracts, Binance/Bybit linear in coin).
"""
