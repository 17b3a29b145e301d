#include "e2b/connect.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace krunbox::e2b {
namespace {

TEST(ConnectEnvelope, RoundTripsSeveral) {
  std::string body = encode_envelope(0, R"({"a":1})") + encode_envelope(kEnvelopeEndStream, "{}");
  ASSERT_EQ(body.size(), 5u + 7u + 5u + 2u);
  EXPECT_EQ(static_cast<unsigned char>(body[0]), 0u);
  EXPECT_EQ(static_cast<unsigned char>(body[4]), 7u);
  auto env = decode_envelopes(body);
  ASSERT_TRUE(env.ok()) << env.error().message();
  ASSERT_EQ(env->size(), 2u);
  EXPECT_EQ((*env)[0].data, R"({"a":1})");
  EXPECT_EQ((*env)[1].flags, kEnvelopeEndStream);
}

TEST(ConnectEnvelope, LengthIsBigEndian) {
  std::string data(0x010203, 'x');
  std::string e = encode_envelope(0, data);
  EXPECT_EQ(static_cast<unsigned char>(e[1]), 0x00);
  EXPECT_EQ(static_cast<unsigned char>(e[2]), 0x01);
  EXPECT_EQ(static_cast<unsigned char>(e[3]), 0x02);
  EXPECT_EQ(static_cast<unsigned char>(e[4]), 0x03);
}

TEST(ConnectEnvelope, RefusesTruncatedCompressedAndHuge) {
  std::string e = encode_envelope(0, "{}");
  EXPECT_FALSE(decode_envelopes(e.substr(0, 3)).ok());
  EXPECT_FALSE(decode_envelopes(e.substr(0, 6)).ok());
  EXPECT_FALSE(decode_envelopes(encode_envelope(kEnvelopeCompressed, "{}")).ok());
  auto big = decode_envelopes(std::string("\0\x7f\xff\xff\xff", 5));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code(), ErrorCode::kLimitExceeded);
  EXPECT_TRUE(decode_envelopes("").ok());
}

TEST(EnvelopeReader, OneAtATimeAsTheBytesTrickleIn) {
  std::string body = encode_envelope(0, R"({"start":{}})") + encode_envelope(0, std::string(70000, 'd'));
  size_t used = 0;
  EnvelopeReader reader([&](char* buf, size_t size) -> Result<size_t> {
    size_t n = std::min<size_t>({size, 3, body.size() - used});
    std::copy_n(body.data() + used, n, buf);
    used += n;
    return n;
  });
  auto first = reader.next();
  ASSERT_TRUE(first.ok() && *first);
  EXPECT_EQ((*first)->data, R"({"start":{}})");
  // Only the first envelope was read so far.
  EXPECT_EQ(used, 5u + 12u);
  auto second = reader.next();
  ASSERT_TRUE(second.ok() && *second);
  EXPECT_EQ((*second)->data.size(), 70000u);
  auto end = reader.next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(*end);
}

TEST(EnvelopeReader, ABodyEndingInsideAnEnvelopeIsAnError) {
  std::string body = encode_envelope(0, "{}");
  body.pop_back();
  EnvelopeReader reader(serve::source_of(body));
  auto e = reader.next();
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message().find("ends inside"), std::string::npos);
}

TEST(ConnectEnvelope, EndStreamCarriesTheError) {
  auto env = decode_envelopes(end_stream_envelope(RpcError{Code::kNotFound, "no such pid"}));
  ASSERT_TRUE(env.ok());
  ASSERT_EQ(env->size(), 1u);
  EXPECT_EQ((*env)[0].flags, kEnvelopeEndStream);
  Json j = Json::parse((*env)[0].data);
  EXPECT_EQ(j["error"]["code"], "not_found");
  EXPECT_EQ(j["error"]["message"], "no such pid");
  auto ok = decode_envelopes(end_stream_envelope(std::nullopt));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)[0].data, "{}");
}

TEST(ConnectCodes, MapAsConnectDoes) {
  EXPECT_EQ(code_name(Code::kInvalidArgument), "invalid_argument");
  EXPECT_EQ(code_name(Code::kUnauthenticated), "unauthenticated");
  EXPECT_EQ(http_status_of(Code::kNotFound), 404);
  EXPECT_EQ(http_status_of(Code::kUnauthenticated), 401);
  EXPECT_EQ(http_status_of(Code::kUnimplemented), 501);
  EXPECT_EQ(http_status_of(Code::kUnavailable), 503);
  EXPECT_EQ(code_of(ErrorCode::kNotFound), Code::kNotFound);
  EXPECT_EQ(code_of(ErrorCode::kUnsupported), Code::kUnimplemented);
  EXPECT_EQ(code_of(ErrorCode::kIo), Code::kInternal);
  EXPECT_EQ(code_of(ErrorCode::kBusy), Code::kResourceExhausted);
}

TEST(ConnectRequest, UnaryAndStreaming) {
  auto u = parse_rpc_request("/process.Process/List", "application/json", "{}");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->service, "process.Process");
  EXPECT_EQ(u->method, "List");
  EXPECT_TRUE(u->message.is_object());
  auto empty = parse_rpc_request("/process.Process/List", "application/json", "");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->message.empty());
  auto s = parse_rpc_request("/process.Process/Start", "application/connect+json; charset=utf-8",
                             encode_envelope(0, R"({"process":{"cmd":"/bin/sh"}})"));
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->message["process"]["cmd"], "/bin/sh");
  EXPECT_TRUE(is_streaming_json("Application/Connect+JSON"));
  EXPECT_FALSE(is_streaming_json("application/json"));
}

TEST(ConnectRequest, RefusesBadInput) {
  EXPECT_FALSE(parse_rpc_request("/x", "application/json", "{}").ok());
  EXPECT_FALSE(parse_rpc_request("/a/b/c", "application/json", "{}").ok());
  EXPECT_FALSE(parse_rpc_request("/a.B/C", "application/proto", "").ok());
  EXPECT_FALSE(parse_rpc_request("/a.B/C", "application/json", "[1]").ok());
  EXPECT_FALSE(parse_rpc_request("/a.B/C", "application/json", "{").ok());
  // Streaming: exactly one message envelope.
  EXPECT_FALSE(parse_rpc_request("/a.B/C", "application/connect+json", "").ok());
  EXPECT_FALSE(
      parse_rpc_request("/a.B/C", "application/connect+json", encode_envelope(0, "{}") + encode_envelope(0, "{}")).ok());
}

}  // namespace
}  // namespace krunbox::e2b
