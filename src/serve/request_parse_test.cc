#include "serve/request_parse.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace krunbox::serve {
namespace {

// The message of a failed parse, which must name what to fix.
template <typename T>
std::string error_of(const Result<T>& r) {
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << r.error().what();
  return r.error().what();
}

TEST(CreateBody, EmptyObjectIsTheDefaults) {
  auto b = parse_create_body("{}");
  ASSERT_TRUE(b.ok()) << b.error().what();
  EXPECT_TRUE(b->start);
  EXPECT_EQ(b->request.backend, "auto");
  EXPECT_FALSE(b->request.require_vm);
  EXPECT_TRUE(b->request.provision.image.empty());
  EXPECT_EQ(b->request.provision.base.vcpus, 1u);
}

TEST(CreateBody, EveryField) {
  auto b = parse_create_body(R"({
    "image": "busybox", "backend": "qemu", "isolation": "vm", "cpus": 2, "memory_mib": 256,
    "pids_limit": 100, "env": {"A": "1", "B": ""}, "secrets": {"TOKEN": "s3"},
    "volumes": [{"host_path": "/tmp", "guest_path": "/mnt", "read_only": true}],
    "ports": [{"host_ip": "127.0.0.1", "host_port": 8080, "guest_port": 80, "protocol": "udp"}],
    "network": "user", "workdir": "/w", "user": "1000:1000", "entrypoint": "/bin/sh",
    "cmd": ["-c", "sleep 1"], "name": "web", "hostname": "h", "labels": {"tenant": "t1"},
    "restart": "on-failure:3", "start": false, "pull": "never"})");
  ASSERT_TRUE(b.ok()) << b.error().what();
  const CreateRequest& r = b->request;
  EXPECT_FALSE(b->start);
  EXPECT_EQ(r.backend, "qemu");
  EXPECT_TRUE(r.require_vm);
  EXPECT_EQ(r.provision.image, "busybox");
  EXPECT_EQ(r.provision.pull, image::PullPolicy::kNever);
  EXPECT_EQ(r.provision.base.vcpus, 2u);
  EXPECT_EQ(r.provision.base.memory_mib, 256u);
  EXPECT_EQ(r.provision.base.pids_limit, 100u);
  EXPECT_EQ(r.provision.env, (std::vector<std::string>{"A=1", "B="}));
  ASSERT_EQ(r.secrets.size(), 1u);
  EXPECT_EQ(r.secrets[0].name, "TOKEN");
  EXPECT_EQ(r.secrets[0].value, "s3");
  ASSERT_EQ(r.provision.base.volumes.size(), 1u);
  EXPECT_TRUE(r.provision.base.volumes[0].read_only);
  EXPECT_EQ(r.provision.base.volumes[0].guest_path, "/mnt");
  ASSERT_EQ(r.provision.base.ports.size(), 1u);
  EXPECT_EQ(r.provision.base.ports[0].host_port, 8080);
  EXPECT_EQ(r.provision.base.ports[0].guest_port, 80);
  EXPECT_EQ(r.provision.base.ports[0].protocol, PortProtocol::kUdp);
  EXPECT_EQ(r.provision.base.network, NetworkMode::kUser);
  EXPECT_EQ(r.provision.workdir, "/w");
  EXPECT_EQ(r.provision.user, "1000:1000");
  EXPECT_EQ(r.provision.entrypoint, "/bin/sh");
  EXPECT_EQ(r.provision.command, (std::vector<std::string>{"-c", "sleep 1"}));
  EXPECT_EQ(r.provision.base.name, "web");
  EXPECT_EQ(r.provision.base.hostname, "h");
  EXPECT_EQ(r.labels.at("tenant"), "t1");
  EXPECT_EQ(r.restart.mode, RestartPolicy::Mode::kOnFailure);
  EXPECT_EQ(r.restart.max_retries, 3u);
}

TEST(CreateBody, EnvAsAList) {
  auto b = parse_create_body(R"({"env": ["A=1", "DROP"]})");
  ASSERT_TRUE(b.ok()) << b.error().what();
  EXPECT_EQ(b->request.provision.env, (std::vector<std::string>{"A=1", "DROP"}));
}

TEST(CreateBody, NullIsNotGiven) {
  auto b = parse_create_body(R"({"image": null, "cpus": null, "start": null})");
  ASSERT_TRUE(b.ok()) << b.error().what();
  EXPECT_TRUE(b->start);
}

TEST(CreateBody, IsolationContainerPicksNative) {
  auto b = parse_create_body(R"({"isolation": "container"})");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->request.backend, "native");
  EXPECT_NE(error_of(parse_create_body(R"({"isolation": "container", "backend": "qemu"})")).find("isolation"),
            std::string::npos);
}

TEST(CreateBody, MalformedJson) {
  EXPECT_NE(error_of(parse_create_body("{\"image\": ")).find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(parse_create_body("")).find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(parse_create_body("[1,2]")).find("must be a JSON object"), std::string::npos);
  EXPECT_NE(error_of(parse_create_body("\"x\"")).find("must be a JSON object"), std::string::npos);
}

TEST(CreateBody, ErrorsNameTheField) {
  struct Case {
    const char* body;
    const char* field;
  } cases[] = {
      {R"({"cpus": "2"})", "\"cpus\" must be an integer"},
      {R"({"cpus": 0})", "\"cpus\""},
      {R"({"cpus": 1.5})", "\"cpus\""},
      {R"({"cpus": -1})", "\"cpus\""},
      {R"({"cpus": 99999999999999999999})", "\"cpus\""},
      {R"({"memory_mib": 1})", "\"memory_mib\""},
      {R"({"image": 5})", "\"image\" must be a string, not number"},
      {R"({"start": "yes"})", "\"start\" must be true or false"},
      {R"({"cmd": "ls"})", "\"cmd\" must be a list of strings"},
      {R"({"cmd": ["ls", 1]})", "\"cmd[1]\""},
      {R"({"env": 3})", "\"env\""},
      {R"({"env": {"A=B": "1"}})", "\"env\""},
      {R"({"env": {"A": 1}})", "\"env.A\""},
      {R"({"labels": {"a": 1}})", "\"labels.a\""},
      {R"({"labels": {"a=b": "1"}})", "\"labels\""},
      {R"({"secrets": {"1BAD": "x"}})", "\"secrets\""},
      {R"({"ports": {}})", "\"ports\""},
      {R"({"ports": [{"host_port": 80}]})", "\"ports[0].guest_port\" is required"},
      {R"({"ports": [{"guest_port": 70000}]})", "\"ports[0].guest_port\""},
      {R"({"ports": [{"guest_port": 80, "protocol": "sctp"}]})", "\"ports[0].protocol\""},
      {R"({"ports": [{"guest_port": 80, "bogus": 1}]})", "\"ports[0].bogus\" is not a known field of ports[0]"},
      {R"({"volumes": [{"guest_path": "/m"}]})", "\"volumes[0].host_path\" is required"},
      {R"({"volumes": [{"host_path": "/a", "guest_path": "/m", "read_only": 1}]})", "\"volumes[0].read_only\""},
      {R"({"network": "bridge"})", "\"network\""},
      {R"({"restart": "sometimes"})", "\"restart\""},
      {R"({"pull": "maybe"})", "\"pull\""},
      {R"({"isolation": "strong"})", "\"isolation\""},
      {R"({"entrypoint": ["/bin/sh"]})", "\"entrypoint\" must be a string"},
      {R"({"backend": ""})", "\"backend\""},
      {R"({"imagee": "busybox"})", "\"imagee\" is not a known field"},
      {R"({"name": "a\u0000b"})", "\"name\" must not contain NUL"},
      {R"({"image": "busybox", "rootfs": "/r"})", "\"image\" and \"rootfs\""},
  };
  for (const auto& c : cases) {
    std::string message = error_of(parse_create_body(c.body));
    EXPECT_NE(message.find(c.field), std::string::npos) << c.body << " -> " << message;
  }
}

TEST(CreateBody, OversizedBodyIsALimit) {
  std::string big = "{\"name\": \"" + std::string(kMaxJsonBody, 'a') + "\"}";
  auto b = parse_create_body(big);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code(), ErrorCode::kLimitExceeded);
}

TEST(StartBody, SecretsOnly) {
  EXPECT_TRUE(parse_start_body("").ok());
  EXPECT_TRUE(parse_start_body(" \n").ok());
  EXPECT_TRUE(parse_start_body("{}")->empty());
  auto s = parse_start_body(R"({"secrets": {"TOKEN": "x"}})");
  ASSERT_TRUE(s.ok()) << s.error().what();
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].value, "x");
  EXPECT_NE(error_of(parse_start_body(R"({"env": {}})")).find("\"env\" is not a known field"), std::string::npos);
  EXPECT_NE(error_of(parse_start_body(R"({"secrets": ["A=1"]})")).find("\"secrets\""), std::string::npos);
  EXPECT_FALSE(parse_start_body("[").ok());
}

TEST(ExecBody, ArgvOrCmd) {
  auto a = parse_exec_body(R"({"argv": ["ls", "-l"], "env": {"A": "1"}, "cwd": "/w", "user": "5",
                               "timeout_s": 7, "stdin": "in", "output_encoding": "base64"})");
  ASSERT_TRUE(a.ok()) << a.error().what();
  EXPECT_EQ(a->params.workload.argv, (std::vector<std::string>{"ls", "-l"}));
  EXPECT_EQ(a->params.workload.env, (std::vector<std::string>{"A=1"}));
  EXPECT_EQ(a->params.workload.cwd, "/w");
  EXPECT_EQ(a->params.workload.user, "5");
  EXPECT_EQ(a->params.timeout, std::chrono::seconds(7));
  EXPECT_EQ(a->params.stdin_data, "in");
  EXPECT_TRUE(a->base64);
  auto c = parse_exec_body(R"({"cmd": "echo hi | wc"})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->params.workload.argv, (std::vector<std::string>{"/bin/sh", "-c", "echo hi | wc"}));
  EXPECT_FALSE(c->params.stdin_data.has_value());
  EXPECT_FALSE(c->base64);
  for (const char* bad :
       {"{}", R"({"argv": ["a"], "cmd": "b"})", R"({"argv": []})", R"({"cmd": ""})", R"({"argv": "ls"})",
        R"({"argv": ["ls"], "timeout_s": 86401})", R"({"argv": ["ls"], "stdin": 5})",
        R"({"argv": ["ls"], "output_encoding": "hex"})", R"({"argv": ["ls"], "tty": true})", "[]", "{"})
    EXPECT_FALSE(parse_exec_body(bad).ok()) << bad;
}

TEST(ExecBody, StdinInBase64) {
  auto b = parse_exec_body(R"({"argv": ["cat"], "stdin": "/wB4", "stdin_encoding": "base64"})");
  ASSERT_TRUE(b.ok()) << b.error().what();
  ASSERT_TRUE(b->params.stdin_data.has_value());
  EXPECT_EQ(*b->params.stdin_data, std::string("\xff\x00x", 3));
  auto text = parse_exec_body(R"({"argv": ["cat"], "stdin": "/wB4", "stdin_encoding": "text"})");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text->params.stdin_data, "/wB4");
  for (const char* bad : {R"({"argv": ["cat"], "stdin": "***", "stdin_encoding": "base64"})",
                          R"({"argv": ["cat"], "stdin_encoding": "base64"})",
                          R"({"argv": ["cat"], "stdin": "eA==", "stdin_encoding": "hex"})"})
    EXPECT_FALSE(parse_exec_body(bad).ok()) << bad;
}

TEST(FileQuery, PathModeParents) {
  auto g = parse_file_query("path=%2Fetc%2Fhostname", FileEndpoint::kRead);
  ASSERT_TRUE(g.ok()) << g.error().what();
  EXPECT_EQ(g->path, "/etc/hostname");
  EXPECT_FALSE(parse_file_query("path=/a&mode=0600", FileEndpoint::kRead).ok());
  auto p = parse_file_query("path=/a/b&mode=0600&parents=true", FileEndpoint::kWrite);
  ASSERT_TRUE(p.ok()) << p.error().what();
  EXPECT_EQ(p->mode, 0600u);
  EXPECT_TRUE(p->make_parents);
  for (const char* bad : {"", "path=", "path=rel", "path=/a&mode=8", "path=/a&mode=77777",
                          "path=/a&mode=", "path=/a&parents=yes", "path=/a&x=1"})
    EXPECT_FALSE(parse_file_query(bad, FileEndpoint::kWrite).ok()) << bad;
  auto one = parse_file_query("path=/a&parents=1", FileEndpoint::kWrite);
  ASSERT_TRUE(one.ok()) << one.error().what();
  EXPECT_TRUE(one->make_parents);
}

TEST(FileQuery, ListDepthAndRecursiveRemove) {
  auto l = parse_file_query("path=/srv&depth=3", FileEndpoint::kList);
  ASSERT_TRUE(l.ok()) << l.error().what();
  EXPECT_EQ(l->depth, 3u);
  EXPECT_EQ(parse_file_query("path=/srv", FileEndpoint::kList)->depth, 1u);
  for (const char* bad :
       {"path=/a&depth=0", "path=/a&depth=11", "path=/a&depth=-1", "path=/a&depth=x", "path=/a&recursive=1"})
    EXPECT_FALSE(parse_file_query(bad, FileEndpoint::kList).ok()) << bad;
  auto r = parse_file_query("path=/a&recursive=true", FileEndpoint::kRemove);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_TRUE(r->recursive);
  EXPECT_FALSE(parse_file_query("path=/a&recursive=maybe", FileEndpoint::kRemove).ok());
  EXPECT_FALSE(parse_file_query("path=/a&depth=2", FileEndpoint::kRemove).ok());
}

TEST(FileBodies, MkdirAndMove) {
  auto m = parse_mkdir_body(R"({"path": "/a/b", "parents": true, "mode": 448})");
  ASSERT_TRUE(m.ok()) << m.error().what();
  EXPECT_EQ(m->path, "/a/b");
  EXPECT_TRUE(m->parents);
  EXPECT_EQ(m->mode, 0700u);
  for (const char* bad : {"{}", R"({"path": "rel"})", R"({"path": "/a", "mode": 4096})", R"({"path": "/a", "x": 1})",
                          R"({"path": 5})", R"({"path": "/a", "parents": "yes"})"})
    EXPECT_FALSE(parse_mkdir_body(bad).ok()) << bad;
  auto mv = parse_move_body(R"({"from": "/a", "to": "/b"})");
  ASSERT_TRUE(mv.ok()) << mv.error().what();
  EXPECT_EQ(mv->to, "/b");
  for (const char* bad : {"{}", R"({"from": "/a"})", R"({"from": "a", "to": "/b"})", R"({"from": "/a", "to": 1})"})
    EXPECT_FALSE(parse_move_body(bad).ok()) << bad;
}

TEST(Query, DecodesAndRefusesUnknownNames) {
  auto q = parse_query("label=a%3Db&label=c&&label=", {"label"});
  ASSERT_TRUE(q.ok()) << q.error().what();
  ASSERT_EQ(q->size(), 3u);
  EXPECT_EQ((*q)[0].second, "a=b");
  EXPECT_EQ((*q)[1].second, "c");
  EXPECT_EQ((*q)[2].second, "");
  EXPECT_NE(error_of(parse_query("lable=x", {"label"})).find("\"lable\""), std::string::npos);
  EXPECT_NE(error_of(parse_query("x=1", {})).find("takes none"), std::string::npos);
  EXPECT_FALSE(parse_query("label=%zz", {"label"}).ok());
  EXPECT_FALSE(parse_query("label=%00", {"label"}).ok());
  EXPECT_FALSE(parse_query("label=%4", {"label"}).ok());
  EXPECT_TRUE(parse_query("", {}).ok());
}

TEST(Query, LabelFilters) {
  auto f = parse_label_filters({{"label", "tenant=t1"}, {"label", "web"}});
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(f->size(), 2u);
  EXPECT_EQ((*f)[0].key, "tenant");
  EXPECT_EQ((*f)[0].value, "t1");
  EXPECT_FALSE((*f)[1].value.has_value());
  EXPECT_NE(error_of(parse_label_filters({{"label", ""}})).find("\"label\""), std::string::npos);
}

TEST(Query, StopTimeoutAndSignal) {
  EXPECT_EQ(*parse_stop_timeout({}), std::chrono::seconds(10));
  EXPECT_EQ(*parse_stop_timeout({{"timeout", "0"}}), std::chrono::seconds(0));
  EXPECT_FALSE(parse_stop_timeout({{"timeout", "-1"}}).ok());
  EXPECT_FALSE(parse_stop_timeout({{"timeout", "3601"}}).ok());
  EXPECT_FALSE(parse_stop_timeout({{"timeout", "1s"}}).ok());
  EXPECT_EQ(*parse_kill_signal({}), SIGKILL);
  EXPECT_EQ(*parse_kill_signal({{"signal", "TERM"}}), SIGTERM);
  EXPECT_EQ(*parse_kill_signal({{"signal", "SIGHUP"}}), SIGHUP);
  EXPECT_EQ(*parse_kill_signal({{"signal", "15"}}), 15);
  EXPECT_FALSE(parse_kill_signal({{"signal", "0"}}).ok());
  EXPECT_FALSE(parse_kill_signal({{"signal", "NOPE"}}).ok());
  EXPECT_FALSE(parse_kill_signal({{"signal", "9999"}}).ok());
}

TEST(SandboxKey, RefusesPathTricks) {
  EXPECT_TRUE(check_sandbox_key("3f2a9c").ok());
  EXPECT_TRUE(check_sandbox_key("web-1.blue_x").ok());
  for (const char* bad : {"", "..", ".", ".hidden", "-x", "a/b", "a\\b", "a b", "a\nb", "ä"})
    EXPECT_FALSE(check_sandbox_key(bad).ok()) << bad;
  EXPECT_FALSE(check_sandbox_key(std::string(129, 'a')).ok());
  EXPECT_FALSE(check_sandbox_key(std::string("a\0b", 3)).ok());
}

TEST(Percent, Decoding) {
  EXPECT_EQ(*percent_decode("a%2Fb+c", "x"), "a/b+c");
  EXPECT_FALSE(percent_decode("%", "x").ok());
  EXPECT_FALSE(percent_decode("%2", "x").ok());
  EXPECT_FALSE(percent_decode("%G0", "x").ok());
}

TEST(ListenAddress, Forms) {
  auto a = parse_listen_address("127.0.0.1:2375");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 2375);
  auto b = parse_listen_address("[::1]:80");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  for (const char* bad : {"", "2375", ":2375", "host:", "host:0", "host:65536", "::1:80", "[::1:80", "h:1x"})
    EXPECT_FALSE(parse_listen_address(bad).ok()) << bad;
}

TEST(AttachControl, ParsesEachKindAndNamesWhatIsWrong) {
  auto r = parse_attach_control(R"({"type":"resize","rows":40,"cols":120})");
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ(r->kind, AttachControl::Kind::kResize);
  EXPECT_EQ(r->size, (std::pair<uint16_t, uint16_t>{40, 120}));
  auto s = parse_attach_control(R"({"type":"signal","signal":"INT"})");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->signal, 2);
  auto c = parse_attach_control(R"({"type":"close_stdin"})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, AttachControl::Kind::kCloseStdin);
  for (const char* bad : {"", "[]", "{}", R"({"type":1})", R"({"type":"warp"})", R"({"type":"resize","rows":0})",
                          R"({"type":"signal","signal":"NOPE"})", R"({"type":"close_stdin","x":1})",
                          R"({"type":"resize","rows":1,"cols":1,"extra":2})"})
    EXPECT_FALSE(parse_attach_control(bad).ok()) << bad;
  EXPECT_NE(parse_attach_control(R"({"type":"warp"})").error().message().find("warp"), std::string::npos);
}

TEST(EventsQuery, TypesSandboxesAndLabels) {
  auto q = parse_events_query("type=exited&type=crashed&sandbox=web&label=tier%3Dfront");
  ASSERT_TRUE(q.ok()) << q.error().what();
  EXPECT_EQ(q->types, (std::vector<std::string>{"exited", "crashed"}));
  EXPECT_EQ(q->sandboxes, std::vector<std::string>{"web"});
  ASSERT_EQ(q->labels.size(), 1u);
  EXPECT_EQ(q->labels[0].key, "tier");
  for (const char* bad : {"type=boom", "sandbox=..", "sandbox=a%2Fb", "label=", "since=0"})
    EXPECT_FALSE(parse_events_query(bad).ok()) << bad;
}

}  // namespace
}  // namespace krunbox::serve
