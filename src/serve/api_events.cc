#include "serve/api_events.h"

#include <memory>

#include "base/json.h"
#include "sandbox/events.h"
#include "serve/request_parse.h"
#include "serve/responses.h"

namespace krunbox::serve {
namespace {

constexpr std::chrono::seconds kKeepalive{15};

}  // namespace

Result<HttpResponse> events_endpoint(const HttpRequest& req) {
  KRUNBOX_ASSIGN_OR_RETURN(SandboxEventFilter query, parse_events_query(req.query));
  auto lifecycle = std::make_shared<Lifecycle>();
  KRUNBOX_ASSIGN_OR_RETURN(auto opened, SandboxWatcher::open(*lifecycle));
  auto watcher = std::make_shared<SandboxWatcher>(std::move(opened));
  HttpResponse r;
  r.content_type = "application/x-ndjson";
  r.stream = [lifecycle, watcher, query = std::move(query)](const ChunkWriter& write) {
    // The watcher points into the lifecycle: both live as long as this.
    (void)lifecycle;
    for (;;) {
      auto events = watcher->next(kKeepalive);
      if (!events) {
        (void)write(dump_json({{"type", "error"}, {"message", events.error().message()}}) + "\n");
        return;
      }
      std::string lines;
      for (const auto& e : *events)
        if (matches(e, query)) lines += dump_json(to_json(e)) + "\n";
      if (events->empty()) lines = dump_json({{"type", "keepalive"}}) + "\n";
      if (!lines.empty() && !write(lines)) return;
    }
  };
  return r;
}

}  // namespace krunbox::serve
