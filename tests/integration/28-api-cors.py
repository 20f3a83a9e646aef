"""CORS: preflight OPTIONS /api/* is 204 without a token; an allowed
Origin is echoed with Vary: Origin, another is not; errors carry the
CORS headers too; 404 and 405 are JSON."""

import rtd


def test():
    with rtd.api_daemon(cors_origins="https://app.example, "
                                     "https://b.example") as d:
        st, h, _ = d.request("OPTIONS", "/api/send", headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization"})
        rtd.check(st == 204, "preflight without a token: 204")
        rtd.check(h.get("Access-Control-Allow-Origin") ==
                  "https://app.example" and h.get("Vary") == "Origin",
                  "allowed origin echoed with Vary: Origin")
        rtd.check("POST" in h.get("Access-Control-Allow-Methods", "") and
                  "X-Device-Id" in h.get("Access-Control-Allow-Headers", "")
                  and "Authorization" in h.get(
                      "Access-Control-Allow-Headers", "") and
                  int(h.get("Access-Control-Max-Age", "0")) > 0,
                  "methods, headers and max-age announced")
        st, h, _ = d.request("OPTIONS", "/api/messages",
                             headers={"Origin": "https://evil.example"})
        rtd.check(st == 204 and "Access-Control-Allow-Origin" not in h,
                  "another origin gets no Allow-Origin")
        st, h, doc = d.api("GET", "/api/messages", rtd.token("alice"),
                           headers={"Origin": "https://b.example"})
        rtd.check(st == 200 and h.get("Access-Control-Allow-Origin") ==
                  "https://b.example", "a real call echoes the origin")
        st, h, doc = d.api("GET", "/api/messages", None,
                           headers={"Origin": "https://b.example"})
        rtd.check(st == 401 and h.get("Access-Control-Allow-Origin") ==
                  "https://b.example", "a 401 carries CORS headers")
        st, h, doc = d.api("GET", "/api/nope", rtd.token("alice"))
        rtd.check(st == 404 and doc["error"] == "not_found", "404 JSON")
        st, h, doc = d.api("PUT", "/api/send", rtd.token("alice"))
        rtd.check(st == 405 and h.get("Allow") == "POST" and
                  doc["error"] == "method_not_allowed", "405 with Allow")
        st, h, doc = d.api("DELETE", "/api/devices", rtd.token("alice"))
        rtd.check(st == 405 and "POST" in h.get("Allow", ""),
                  "405 on /api/devices lists its methods")

    with rtd.api_daemon(cors_origins="*") as d:
        st, h, _ = d.request("OPTIONS", "/api/send",
                             headers={"Origin": "https://any.example"})
        rtd.check(st == 204 and h.get("Access-Control-Allow-Origin") ==
                  "*", "cors_origins = * answers *")


rtd.run(test)
