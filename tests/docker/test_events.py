"""docker events and docker-py's client.events over krunbox's records:
Docker's event shape, since/until replay, filters, and a live stream."""
import json
import subprocess
import time

from conftest import DOCKER


def events(docker, since, until, *filters):
    args = ["events", "--since", "%.9f" % since, "--until", "%.9f" % until, "--format", "{{json .}}"]
    for f in filters:
        args += ["--filter", f]
    r = docker(*args, check=True, timeout=60)
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def test_since_until_replays_a_containers_life(docker):
    t0 = time.time()
    docker("run", "--name", "ev1", "-l", "team=ev", "busybox", "sh", "-c", "sleep 0.5; exit 3")
    docker("rm", "ev1", check=True)
    time.sleep(1.5)  # the records are watched; give the last change time to be seen
    t1 = time.time()
    got = events(docker, t0, t1, "container=ev1")
    assert [e["Action"] for e in got] == ["create", "start", "die", "destroy"], got
    die = got[2]
    assert die["Type"] == "container"
    assert die["Actor"]["Attributes"]["exitCode"] == "3"
    assert die["Actor"]["Attributes"]["name"] == "ev1"
    assert die["Actor"]["Attributes"]["image"] == "busybox"
    assert die["Actor"]["Attributes"]["team"] == "ev"
    assert die["Actor"]["ID"] == got[0]["Actor"]["ID"] and len(die["Actor"]["ID"]) == 64
    assert t0 <= die["time"] + 1 and die["timeNano"] // 10**9 == die["time"]
    assert [e["Action"] for e in events(docker, t0, t1, "container=ev1", "event=die")] == ["die"]
    assert len(events(docker, t0, t1, "label=team=ev")) == 4
    assert events(docker, t0, t1, "label=team=other") == []
    assert events(docker, t0, t1, "type=image", "container=ev1") == []
    # Before anything happened: nothing.
    assert events(docker, t0 - 100, t0 - 50) == []


def test_bad_filters_and_times_are_refused(docker):
    r = docker("events", "--since", "1", "--until", "2", "--filter", "daemon=x")
    assert r.returncode != 0 and "invalid filter 'daemon'" in r.stderr, r.stderr
    r = docker("events", "--since", "5", "--until", "2")
    assert r.returncode != 0 and "until is before since" in r.stderr, r.stderr


def test_live_stream(docker):
    proc = subprocess.Popen([DOCKER, "events", "--until", "%.3f" % (time.time() + 60), "--filter", "container=ev2",
                             "--format", "{{.Action}}"], env=docker.env, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1)  # the stream is open before the container is made
        docker("run", "--rm", "--name", "ev2", "busybox", "sh", "-c", "sleep 0.5", check=True)
        seen = []
        for line in proc.stdout:
            seen.append(line.strip())
            if seen[-1] == "destroy":
                break
        assert seen == ["create", "start", "die", "destroy"], seen
    finally:
        proc.kill()
        proc.wait()


def test_dockerpy_events(dockerpy):
    t0 = time.time()
    dockerpy.containers.run("busybox", ["sh", "-c", "sleep 0.5"], name="ev3", remove=True)
    time.sleep(1.5)
    got = list(dockerpy.events(since=int(t0), until=int(time.time()) + 1, filters={"container": "ev3"}, decode=True))
    assert [e["Action"] for e in got] == ["create", "start", "die", "destroy"], got
    assert all(e["Type"] == "container" and e["Actor"]["Attributes"]["name"] == "ev3" for e in got)
