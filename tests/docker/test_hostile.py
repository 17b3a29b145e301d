"""Hostile and malformed requests on the Docker socket get Docker's 4xx
{"message": ...}, and the server keeps serving."""
import http.client
import json
import socket

import pytest


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("docker", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path)


def call(server, method, path, body=None, headers=None):
    c = UnixConnection(server.docker_socket)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


@pytest.mark.parametrize("method,path,body,status", [
    ("POST", "/v1.43/containers/create", b"not json", 400),
    ("POST", "/v1.43/containers/create", b"[" * 200000 + b"]" * 200000, 400),
    ("POST", "/v1.43/containers/create", b'{"Image":"busybox","HostConfig":{"CapAdd":["ALL"]}}', 400),
    ("POST", "/v1.43/containers/create", b'{"Image":"busybox","Cmd":"x","Healthcheck":' + b"[" * 100000 +
     b"]" * 100000 + b"}", 400),
    ("POST", "/v1.43/containers/create?name=..%2F..", b'{"Image":"busybox"}', 400),
    ("POST", "/v1.43/containers/create", b'{"Image":"../../etc"}', 400),
    ("POST", "/v1.43/containers/create", b'{"Image":"nosuch/image:1"}', 404),
    ("GET", "/v1.43/containers/..%2F..%2Fetc/json", None, 400),
    ("GET", "/v1.43/containers/%2e%2e/json", None, 404),
    ("GET", "/v1.43/containers/json?filters=%7B", None, 400),
    ("GET", "/v1.43/containers/json?limit=x", None, 400),
    ("POST", "/v1.43/containers/nosuch/kill?signal=NOPE", None, 404),
    ("GET", "/v1.43/exec/zz/json", None, 404),
    ("GET", "/v1.43/exec/" + "f" * 64 + "/json", None, 404),
    ("GET", "/v1.2/info", None, 400),
    ("GET", "/v1.43/networks", None, 404),
    ("PUT", "/v1.43/_ping", None, 405),
    ("GET", "/v1.43/containers/nosuch/archive?path=%00", None, 400),
    ("GET", "/v1.43/images/nosuch:1/json", None, 404),
])
def test_bad_requests_are_dockers_4xx(server, method, path, body, status):
    got, data = call(server, method, path, body, {"Content-Type": "application/json"})
    assert got == status, data
    assert "message" in json.loads(data)


def test_still_serving(server):
    got, data = call(server, "GET", "/_ping")
    assert got == 200 and data == b"OK"
