#include "proto/messages.h"

#include <gtest/gtest.h>

#include "proto/frame.h"

namespace krunbox::proto {
namespace {

TEST(MessagesTest, ExecRequestRoundTrips) {
  ExecRequest r;
  r.argv = {"sh", "-c", "echo hi"};
  r.env = {"A=1", "B=x=y"};
  r.env_mode = EnvMode::kReplace;
  r.cwd = "/tmp";
  r.user = "nobody";
  r.uid = 65534;
  r.groups = std::vector<uint32_t>{1, 2};
  r.tty = true;
  r.rows = 40;
  r.cols = 120;
  r.stdin_open = false;
  r.timeout_ms = 1500;
  auto p = parse_request(encode_request(r));
  ASSERT_TRUE(p.ok()) << p.error().what();
  auto& e = std::get<ExecRequest>(*p);
  EXPECT_EQ(e.argv, r.argv);
  EXPECT_EQ(e.env, r.env);
  EXPECT_EQ(e.env_mode, EnvMode::kReplace);
  EXPECT_EQ(e.cwd, "/tmp");
  EXPECT_EQ(e.user, "nobody");
  EXPECT_EQ(*e.uid, 65534u);
  EXPECT_FALSE(e.gid.has_value());
  EXPECT_EQ(*e.groups, (std::vector<uint32_t>{1, 2}));
  EXPECT_TRUE(e.tty);
  EXPECT_EQ(e.rows, 40);
  EXPECT_EQ(e.cols, 120);
  EXPECT_FALSE(e.stdin_open);
  EXPECT_EQ(e.timeout_ms, 1500u);
}

TEST(MessagesTest, OtherRequestsRoundTrip) {
  for (const Request& r : std::vector<Request>{SignalRequest{3, 9, true}, ResizeRequest{3, 10, 20},
                                               PutRequest{"/a/b", 0755, 1, 2, true}, GetRequest{"/x"},
                                               StatRequest{"/y"}, PingRequest{}, InfoRequest{},
                                               ShutdownRequest{250, ShutdownAction::kExit},
                                               ListRequest{"/l", 3}, MkdirRequest{"/m", 0700, 5, 6, true},
                                               MoveRequest{"/f", "/t"}, RemoveRequest{"/r", true},
                                               AdoptRequest{7},
                                               ReseedRequest{std::string(32, '\xab'), 1765150000000000000, "h"}}) {
    auto p = parse_request(encode_request(r));
    ASSERT_TRUE(p.ok()) << p.error().what();
    EXPECT_EQ(p->index(), r.index());
    EXPECT_EQ(encode_request(*p), encode_request(r));
  }
}

TEST(MessagesTest, RejectsInvalidRequests) {
  for (const char* bad : {
           "", "[]", "{}", "{\"op\":1}", "{\"op\":\"nope\"}", "{\"op\":\"exec\"}", "{\"op\":\"exec\",\"argv\":[]}",
           "{\"op\":\"exec\",\"argv\":[\"\"]}", "{\"op\":\"exec\",\"argv\":[1]}",
           "{\"op\":\"exec\",\"argv\":[\"a\"],\"env\":[\"NOEQUALS\"]}",
           "{\"op\":\"exec\",\"argv\":[\"a\"],\"cwd\":\"rel\"}",
           "{\"op\":\"exec\",\"argv\":[\"a\"],\"rows\":70000}",
           "{\"op\":\"exec\",\"argv\":[\"a\"],\"uid\":-1}",
           "{\"op\":\"exec\",\"argv\":[\"a\"],\"env_mode\":\"x\"}",
           "{\"op\":\"exec\",\"argv\":[\"a\\u0000b\"]}",
           "{\"op\":\"put\",\"path\":\"rel\"}", "{\"op\":\"put\",\"path\":\"/a\",\"mode\":65536}",
           "{\"op\":\"get\"}", "{\"op\":\"signal\",\"session\":1,\"signal\":0}",
           "{\"op\":\"signal\",\"session\":1,\"signal\":65}", "{\"op\":\"resize\",\"session\":1}",
           "{\"op\":\"shutdown\",\"action\":\"explode\"}", "{\"op\":\"exec\",\"argv\":\"sh\"}"}) {
    EXPECT_FALSE(parse_request(bad).ok()) << bad;
  }
}

TEST(MessagesTest, KeepAdoptAndReseed) {
  ExecRequest kept;
  kept.argv = {"sh"};
  kept.keep = true;
  auto p = parse_request(encode_request(kept));
  ASSERT_TRUE(p.ok()) << p.error().what();
  EXPECT_TRUE(std::get<ExecRequest>(*p).keep);
  auto r = parse_request(encode_request(ReseedRequest{std::string("\x00\x01\xfe\xff", 4) + std::string(28, 'z'), 5, ""}));
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ(std::get<ReseedRequest>(*r).entropy, std::string("\x00\x01\xfe\xff", 4) + std::string(28, 'z'));
  EXPECT_EQ(std::get<ReseedRequest>(*r).realtime_ns, 5);
  std::string hex64(64, 'a');
  for (std::string bad : {std::string(R"({"op":"adopt"})"), std::string(R"({"op":"adopt","session":0})"),
                          std::string(R"({"op":"adopt","session":-1})"), std::string(R"({"op":"reseed"})"),
                          R"({"op":"reseed","entropy":")" + std::string(62, 'a') + R"("})",
                          R"({"op":"reseed","entropy":")" + std::string(63, 'a') + R"("})",
                          R"({"op":"reseed","entropy":")" + std::string(1026, 'a') + R"("})",
                          R"({"op":"reseed","entropy":")" + std::string(63, 'a') + R"(G"})",
                          R"({"op":"reseed","entropy":")" + std::string(63, 'a') + R"(A"})",
                          R"({"op":"reseed","entropy":")" + hex64 + R"(","realtime_ns":-1})",
                          R"({"op":"reseed","entropy":")" + hex64 + R"(","hostname":")" + std::string(65, 'h') + R"("})",
                          std::string(R"({"op":"exec","argv":["a"],"keep":1})")}) {
    EXPECT_FALSE(parse_request(bad).ok()) << bad;
  }
}

TEST(MessagesTest, FileOpRequestsHaveDefaults) {
  auto l = parse_request(R"({"op":"list","path":"/d"})");
  ASSERT_TRUE(l.ok()) << l.error().what();
  EXPECT_EQ(std::get<ListRequest>(*l).depth, 1u);
  auto m = parse_request(R"({"op":"mkdir","path":"/d"})");
  ASSERT_TRUE(m.ok()) << m.error().what();
  const auto& mk = std::get<MkdirRequest>(*m);
  EXPECT_EQ(mk.mode, 0755u);
  EXPECT_EQ(mk.uid, 0u);
  EXPECT_FALSE(mk.parents);
  auto r = parse_request(R"({"op":"remove","path":"/d"})");
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_FALSE(std::get<RemoveRequest>(*r).recursive);
  auto mv = parse_request(R"({"op":"move","from":"/a","to":"/b","extra":1})");  // unknown fields are ignored
  ASSERT_TRUE(mv.ok()) << mv.error().what();
  EXPECT_EQ(std::get<MoveRequest>(*mv).to, "/b");
  EXPECT_EQ(request_op(*mv), "move");
  EXPECT_EQ(request_op(*r), "remove");
}

// Hostile file-op requests: each is rejected with kProtocol, naming the field.
TEST(MessagesTest, RejectsInvalidFileOpRequests) {
  std::string long_path = "/" + std::string(kMaxPath, 'a');
  struct Case {
    std::string json;
    const char* field;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"op":"list"})", "path"},
           {R"({"op":"list","path":7})", "path"},
           {R"({"op":"list","path":"rel"})", "path"},
           {R"({"op":"list","path":""})", "path"},
           {R"({"op":"list","path":"/a\u0000b"})", "path"},
           {R"({"op":"list","path":")" + long_path + R"("})", "path"},
           {R"({"op":"list","path":"/","depth":0})", "depth"},
           {R"({"op":"list","path":"/","depth":11})", "depth"},
           {R"({"op":"list","path":"/","depth":-1})", "depth"},
           {R"({"op":"list","path":"/","depth":1.5})", "depth"},
           {R"({"op":"list","path":"/","depth":"2"})", "depth"},
           {R"({"op":"mkdir"})", "path"},
           {R"({"op":"mkdir","path":["/a"]})", "path"},
           {R"({"op":"mkdir","path":"/a","mode":4096})", "mode"},
           {R"({"op":"mkdir","path":"/a","mode":"0755"})", "mode"},
           {R"({"op":"mkdir","path":"/a","parents":1})", "parents"},
           {R"({"op":"mkdir","path":"/a","uid":4294967296})", "uid"},
           {R"({"op":"mkdir","path":"/a","gid":-5})", "gid"},
           {R"({"op":"move","to":"/b"})", "from"},
           {R"({"op":"move","from":"/a"})", "to"},
           {R"({"op":"move","from":"a","to":"/b"})", "from"},
           {R"({"op":"move","from":"/a","to":{}})", "to"},
           {R"({"op":"remove"})", "path"},
           {R"({"op":"remove","path":"x/y"})", "path"},
           {R"({"op":"remove","path":"/x","recursive":"yes"})", "recursive"},
       }) {
    auto p = parse_request(c.json);
    ASSERT_FALSE(p.ok()) << c.json;
    EXPECT_EQ(p.error().code(), ErrorCode::kProtocol) << c.json;
    EXPECT_NE(p.error().what().find(std::string("'") + c.field + "'"), std::string::npos)
        << c.json << " -> " << p.error().what();
  }
}

TEST(MessagesTest, ListRepliesRoundTripAndAreBounded) {
  auto s = parse_list_started(to_json(ListStarted{3, 120, true}));
  ASSERT_TRUE(s.ok()) << s.error().what();
  EXPECT_EQ(s->entries, 3u);
  EXPECT_EQ(s->size, 120u);
  EXPECT_TRUE(s->truncated);
  EXPECT_FALSE(parse_list_started(Json{{"size", 0}}).ok());
  EXPECT_FALSE(parse_list_started(Json{{"entries", 0}}).ok());
  EXPECT_FALSE(parse_list_started(Json{{"entries", kMaxListEntries + 1}, {"size", 0}}).ok());
  EXPECT_FALSE(parse_list_started(Json{{"entries", 1}, {"size", kMaxListBytes + 1}}).ok());
  EXPECT_FALSE(parse_list_started(Json{{"entries", 1}, {"size", 1}, {"truncated", "no"}}).ok());

  DirEntry e{"sub/link", FileStat{"symlink", 0777, 4, 1, 2, 1234567890123, "../t"}};
  std::string line = encode_dir_entry(e);
  ASSERT_EQ(line.back(), '\n');
  ASSERT_EQ(line.find('\n'), line.size() - 1);
  auto back = parse_dir_entry(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(back.ok()) << back.error().what();
  EXPECT_EQ(back->name, "sub/link");
  EXPECT_EQ(back->stat.type, "symlink");
  EXPECT_EQ(back->stat.target, "../t");
  EXPECT_EQ(back->stat.mtime_ns, 1234567890123);
  EXPECT_EQ(back->stat.uid, 1u);
}

// A name holding a newline stays on one line; invalid UTF-8 (a file name the
// guest made up) becomes U+FFFD, as in every other message, rather than break the JSON.
TEST(MessagesTest, ListEntryNamesSurviveOddBytes) {
  DirEntry e{"a\nb\xff\xfe", FileStat{"file", 0644, 0, 0, 0, 0, ""}};
  std::string line = encode_dir_entry(e);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto back = parse_dir_entry(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(back.ok()) << back.error().what();
  EXPECT_EQ(back->name, "a\nb\xEF\xBF\xBD\xEF\xBF\xBD");
}

// The longest names a list can hold — ten levels of 255 bytes, a 4095-byte
// symlink target — still parse when every byte of them is not UTF-8.
TEST(MessagesTest, LongestListEntryParses) {
  std::string part(255, '\xff');
  std::string name = part;
  for (uint32_t i = 1; i < kMaxListDepth; ++i) name += "/" + part;
  DirEntry e{name, FileStat{"symlink", 0777, 4095, 0, 0, 0, std::string(4095, '\x01')}};
  e.stat.target[0] = '\xfe';
  std::string line = encode_dir_entry(e);
  EXPECT_LT(line.size(), kMaxControlPayload);
  auto back = parse_dir_entry(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(back.ok()) << back.error().what();
  EXPECT_EQ(back->name.size(), 3 * name.size() - 2 * (kMaxListDepth - 1));
}

TEST(MessagesTest, RejectsHostileListEntries) {
  for (const char* bad :
       {"", "[]", "{", R"({"type":"file"})", R"({"name":"a"})", R"({"name":"a","type":"fifo"})",
        R"({"name":1,"type":"file"})", R"({"name":"","type":"file"})", R"({"name":"/etc","type":"file"})",
        R"({"name":"..","type":"dir"})", R"({"name":"a/../../b","type":"dir"})", R"({"name":"a//b","type":"file"})",
        R"({"name":"./a","type":"file"})", R"({"name":"a/","type":"dir"})", R"({"name":"a\u0000","type":"file"})",
        R"({"name":"a","type":"file","size":-1})", R"({"name":"a","type":"file","mode":"x"})",
        R"({"name":"a","type":"symlink","target":5})"}) {
    auto p = parse_dir_entry(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.error().code(), ErrorCode::kProtocol) << bad;
  }
  std::string huge = R"({"name":")" + std::string(3 * kMaxPath + 1, 'n') + R"(","type":"file"})";
  EXPECT_FALSE(parse_dir_entry(huge).ok());
  std::string oversized = R"({"name":"a","type":"file","pad":")" + std::string(kMaxControlPayload, 'p') + R"("})";
  EXPECT_FALSE(parse_dir_entry(oversized).ok());
}

TEST(MessagesTest, ResponsesCarryErrors) {
  Error e(ErrorCode::kNotFound, "stat /nope");
  auto r = parse_response(encode_error_response(e));
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->ok());
  EXPECT_EQ(r->error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r->error().message(), "stat /nope");
  auto ok = parse_response(encode_ok(to_json(PingReply{42})));
  ASSERT_TRUE(ok.ok() && ok->ok());
  EXPECT_EQ(parse_ping_reply(ok->value())->uptime_ms, 42u);
  EXPECT_FALSE(parse_response("{\"ok\":false}").ok());
}

TEST(MessagesTest, ExitNeedsExactlyOneOfCodeAndSignal) {
  auto a = parse_exit(encode(ExitMessage{ExitStatus::exited(3), false}));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->status, ExitStatus::exited(3));
  auto b = parse_exit(encode(ExitMessage{ExitStatus::killed(9), true}));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->status, ExitStatus::killed(9));
  EXPECT_TRUE(b->timed_out);
  EXPECT_FALSE(parse_exit("{}").ok());
  EXPECT_FALSE(parse_exit("{\"code\":1,\"signal\":2}").ok());
  EXPECT_FALSE(parse_exit("{\"code\":256}").ok());
}

TEST(MessagesTest, HelloAndReplies) {
  AgentHello h;
  h.agent_version = "1.2";
  h.capabilities = {"exec", "pty"};
  h.max_payload = 5;
  h.initial_window = 6;
  h.pid1 = true;
  auto p = parse_agent_hello(encode(h));
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->has("pty"));
  EXPECT_FALSE(p->has("x"));
  EXPECT_TRUE(p->pid1);
  auto c = parse_client_hello(encode(ClientHello{1, 1, "t"}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->client, "t");
  EXPECT_FALSE(parse_client_hello("{\"protocol\":1,\"min_protocol\":2}").ok());

  FileStat st{"symlink", 0777, 3, 1, 2, 99, "target"};
  auto s = parse_file_stat(to_json(st));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->target, "target");
  EXPECT_EQ(s->mtime_ns, 99);
  InfoReply info{"6.1", "box", 2, 100, 50, "0.1", true};
  auto i = parse_info_reply(to_json(info));
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->hostname, "box");
  EXPECT_EQ(i->cpus, 2u);
}

TEST(MessagesTest, WindowBounds) {
  EXPECT_EQ(*parse_window(encode_window(7)), 7u);
  EXPECT_FALSE(parse_window(encode_window(0)).ok());
  EXPECT_FALSE(parse_window(encode_window((1u << 30) + 1)).ok());
  EXPECT_FALSE(parse_window("abc").ok());
}

TEST(MessagesTest, ErrorCodeNamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) {
    auto c = static_cast<ErrorCode>(i);
    EXPECT_EQ(error_code_from_name(error_code_name(c)), c);
  }
  EXPECT_FALSE(error_code_from_name("bogus").has_value());
}

}  // namespace
}  // namespace krunbox::proto
