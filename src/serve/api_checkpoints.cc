#include "serve/api_checkpoints.h"

#include "sandbox/checkpointing.h"
#include "serve/request_parse.h"
#include "serve/responses.h"

namespace krunbox::serve {
namespace {

// What `krunbox checkpoint inspect` shows, less the recorded configuration
// (it may name host paths; the sandbox it came from is named instead).
Json checkpoint_document(const CheckpointInfo& c) {
  return Json{{"name", c.name},
              {"created_at", c.created_at},
              {"sandbox_id", c.source_id},
              {"sandbox_name", c.source_name},
              {"backend", c.backend},
              {"image", c.config.image},
              {"size_bytes", c.size_bytes}};
}

}  // namespace

Result<HttpResponse> checkpoints_endpoint(const std::vector<std::string>& rest, const HttpRequest& req) {
  KRUNBOX_ASSIGN_OR_RETURN(auto query, parse_query(req.query, {}));
  (void)query;
  CheckpointStore store;
  if (rest.empty()) {
    KRUNBOX_ASSIGN_OR_RETURN(auto list, store.list());
    Json out = Json::array();
    for (const auto& c : list) out.push_back(checkpoint_document(c));
    return json_response(200, out);
  }
  if (rest.size() != 1) return Error(ErrorCode::kNotFound, "no such endpoint: checkpoint names hold no '/'");
  if (req.method == "DELETE") {
    KRUNBOX_TRY(check_no_body(req.body));
    KRUNBOX_TRY(store.remove(rest[0], StateStore()));
    return no_content();
  }
  KRUNBOX_ASSIGN_OR_RETURN(CheckpointInfo info, store.load(rest[0]));
  return json_response(200, checkpoint_document(info));
}

Result<HttpResponse> checkpoint_endpoint(const std::string& sandbox, const HttpRequest& req) {
  KRUNBOX_ASSIGN_OR_RETURN(auto query, parse_query(req.query, {}));
  (void)query;
  KRUNBOX_ASSIGN_OR_RETURN(CheckpointBody body, parse_checkpoint_body(req.body));
  Lifecycle lc;
  KRUNBOX_ASSIGN_OR_RETURN(CheckpointInfo info,
                           checkpoint_sandbox(lc, CheckpointRequest{sandbox, body.name, body.leave_running}));
  HttpResponse r = json_response(201, checkpoint_document(info));
  r.headers.emplace_back("Location", "/v1/checkpoints/" + info.name);
  return r;
}

}  // namespace krunbox::serve
