#!/usr/bin/env python3
"""Signing test vectors for vigil's Huawei Cloud signer, made by Huawei's own SDK.

    python3 -m venv /tmp/hw && /tmp/hw/bin/pip install huaweicloudsdkcore
    /tmp/hw/bin/python scripts/huawei_vectors.py > tests/fixtures/huawei/vectors.json

Each case goes through the SDK's Signer (SDK-HMAC-SHA256) step by step, the way its
sign() does, so that the canonical request and the string to sign can be recorded
beside the Authorization header; the full sign() is then run on a copy and must give
the same Authorization, so the steps cannot drift from the SDK's own path.
The AK/SK are made up for the vectors: they open nothing.
"""
import copy
import json
import sys

from importlib.metadata import version

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

AK = "HPUAVIGILTESTVECTOR1"
SK = "vigilTestVectorSecretKey0123456789abcdef"
HOST = "as.cn-north-4.myhuaweicloud.com"
ECS = "ecs.cn-north-4.myhuaweicloud.com"
PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
GROUP = "9d1f7c2a-5b3e-4c6d-8e9f-0a1b2c3d4e5f"
JSON = "application/json;charset=UTF-8"
DATE = "20261201T221500Z"

CASES = [
    # name, method, host, path, query, headers, body
    ("get-list-groups", "GET", HOST, f"/autoscaling-api/v1/{PROJECT}/scaling_group",
     [("limit", "20"), ("start_number", "0")], {"Content-Type": JSON}, b""),
    ("get-no-query-no-content-type", "GET", HOST,
     f"/autoscaling-api/v1/{PROJECT}/scaling_group/{GROUP}", [], {}, b""),
    ("put-desired-json", "PUT", HOST, f"/autoscaling-api/v1/{PROJECT}/scaling_group/{GROUP}",
     [], {"Content-Type": JSON}, b'{"desire_instance_number": 3}'),
    ("post-resize-json", "POST", ECS, f"/v1/{PROJECT}/cloudservers/srv-1/resize", [],
     {"Content-Type": "application/json"},
     b'{"resize": {"flavorRef": "c7.xlarge.2", "mode": "withStopServer"}}'),
    ("post-empty-json-body", "POST", ECS, f"/v1/{PROJECT}/cloudservers/action", [],
     {"Content-Type": "application/json"}, b"{}"),
    ("post-create-client-token", "POST", ECS, f"/v1.1/{PROJECT}/cloudservers", [],
     {"Content-Type": JSON, "X-Client-Token": "vigil-6f1c2e0a-web-3"},
     b'{"server": {"name": "web-3", "flavorRef": "s6.small.1"}}'),
    ("delete-with-query", "DELETE", HOST, f"/autoscaling-api/v1/{PROJECT}/scaling_group/{GROUP}",
     [("force_delete", "no")], {"Content-Type": JSON}, b""),
    ("patch-json", "PATCH", HOST, f"/autoscaling-api/v1/{PROJECT}/scaling_group/{GROUP}",
     [], {"Content-Type": JSON}, b'{"a":1}'),
    ("head", "HEAD", HOST, f"/autoscaling-api/v1/{PROJECT}/scaling_group", [], {}, b""),
    ("options", "OPTIONS", HOST, "/", [], {}, b""),
    ("lowercase-method", "get", HOST, "/v1/versions", [], {}, b""),
    ("repeated-keys", "GET", HOST, f"/autoscaling-api/v1/{PROJECT}/scaling_group_instance/{GROUP}/list",
     [("life_cycle_state", "PENDING"), ("life_cycle_state", "INSERVICE"), ("limit", "100"),
      ("life_cycle_state", "REMOVING")], {"Content-Type": JSON}, b""),
    ("repeated-keys-as-list", "GET", HOST, "/v1/items",
     [("tag", ["zeta", "alpha", "Mid"]), ("a", "1")], {}, b""),
    ("unicode-keys-and-values", "GET", HOST, "/v1/search",
     [("名字", "网站-一"), ("name", "café"), ("ключ", "значение"), ("emoji", "🚀")], {}, b""),
    ("reserved-chars-in-query", "GET", HOST, "/v1/q",
     [("q", "a b+c&d=e/f?g#h%i"), ("tilde~", "x~y"), ("star", "*"), ("empty", "")], {}, b""),
    ("query-key-order-case", "GET", HOST, "/v1/q",
     [("b", "2"), ("B", "1"), ("a", "3"), ("_x", "4"), ("a", "0")], {}, b""),
    ("path-needs-escaping", "GET", HOST, "/v1/servers/my server/标签 & more", [], {}, b""),
    ("path-pre-escaped", "GET", HOST, "/v1/servers/my%20server/a%2Fb", [], {}, b""),
    ("path-trailing-slash", "GET", HOST, "/v1/servers/", [], {}, b""),
    ("path-reserved", "GET", HOST, "/v1/a:b@c!d$e'(f)*g,h;i=j~k", [], {}, b""),
    ("non-json-content-type-unsigned", "PUT", HOST, "/v1/object", [],
     {"Content-Type": "application/octet-stream"}, b"\x00\x01binary"),
    ("form-urlencoded-unsigned", "POST", HOST, "/v1/form", [],
     {"Content-Type": "application/x-www-form-urlencoded"}, b"a=1&b=2"),
    ("extra-headers-and-underscore", "GET", HOST, "/v1/h", [],
     {"X-Project-Id": PROJECT, "User-Agent": "vigil/0.1", "X_Not_Signed": "skip",
      "X-Spaces": "  padded value  "}, b""),
    ("host-with-port", "GET", "127.0.0.1:8443", "/v1/p", [("x", "1")], {}, b""),
    ("unicode-json-body", "POST", HOST, "/v1/names", [], {"Content-Type": JSON},
     '{"name": "伸缩组-一"}'.encode("utf-8")),
    ("user-date-header", "GET", HOST, "/v1/date", [], {"X-Sdk-Date": "20250102T030405Z"}, b""),
]


def vector(name, method, host, path, query, headers, body):
    headers = dict(headers)
    if not any(k.lower() == "x-sdk-date" for k in headers):
        headers["X-Sdk-Date"] = DATE
    req = SdkRequest(method=method, schema="https", host=host, resource_path=path,
                     query_params=copy.deepcopy(query), header_params=dict(headers),
                     body=body)
    full = copy.deepcopy(req)
    creds = BasicCredentials(AK, SK)
    signer = Signer(creds)

    # The steps of Signer.sign, recorded one by one.
    signer._process_content_header(req)
    t = signer._process_header_time(req)
    signer._process_header_host(req)
    signed = signer._process_signed_headers(req)
    canonical = signer._process_canonical_request(req, signed)
    to_sign = signer._process_string_to_sign(canonical, t)
    signature = signer._sign_string_to_sign(to_sign, SK)
    auth = signer._process_auth_header_value(signature, AK, signed)
    signer.process_request_uri(req)

    Signer(creds).sign(full)
    if full.header_params["Authorization"] != auth or full.uri != req.uri:
        sys.exit(f"{name}: the step-by-step signature differs from Signer.sign")

    flat_query = []
    for k, v in query:
        for item in (v if isinstance(v, list) else [v]):
            flat_query.append([k, item])
    return {
        "name": name,
        "method": method,
        "host": host,
        "path": path,
        "query": flat_query,
        "headers": [[k, v] for k, v in headers.items()],
        "body_hex": body.hex(),
        "expected": {
            "signed_headers": ";".join(signed),
            "headers": [[k, v] for k, v in full.header_params.items()],
            "canonical_request": canonical,
            "string_to_sign": to_sign,
            "authorization": auth,
            "uri": full.uri,
        },
    }


def main():
    out = {
        "generator": "scripts/huawei_vectors.py",
        "sdk": "huaweicloudsdkcore " + version("huaweicloudsdkcore"),
        "ak": AK,
        "sk": SK,
        "vectors": [vector(*c) for c in CASES],
    }
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
