"""respx patches httpx.AsyncClient's transport lookup (its "httpx" mocker), so routes answer either of the openai
SDK's HTTP clients (httpx, or aiohttp under httpx's API) that chat calls use."""

import respx.mocks

respx.mocks.DEFAULT_MOCKER = "httpx"
