#include "image/curl_api.h"

#include <dlfcn.h>

#include <mutex>
#include <optional>
#include <string>

namespace krunbox::image {
namespace {

template <typename Fn>
bool resolve(void* lib, const char* name, Fn*& out, std::string& missing) {
  out = reinterpret_cast<Fn*>(::dlsym(lib, name));
  if (!out) missing += (missing.empty() ? "" : ", ") + std::string(name);
  return out != nullptr;
}

}  // namespace

Result<CurlApi> load_curl(const char* library) {
  // RTLD_LOCAL: curl's symbols stay out of the global namespace.
  void* lib = ::dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = ::dlerror();
    return Error(ErrorCode::kUnavailable, std::string("cannot load ") + library + " (" + (why ? why : "unknown error") +
                                              "), which pulling images needs; install it: apt-get install libcurl4");
  }
  CurlApi api{};
  std::string missing;
  resolve(lib, "curl_global_init", api.global_init, missing);
  resolve(lib, "curl_easy_init", api.easy_init, missing);
  resolve(lib, "curl_easy_cleanup", api.easy_cleanup, missing);
  resolve(lib, "curl_easy_reset", api.easy_reset, missing);
  resolve(lib, "curl_easy_setopt", api.easy_setopt, missing);
  resolve(lib, "curl_easy_perform", api.easy_perform, missing);
  resolve(lib, "curl_easy_getinfo", api.easy_getinfo, missing);
  resolve(lib, "curl_easy_strerror", api.easy_strerror, missing);
  resolve(lib, "curl_share_init", api.share_init, missing);
  resolve(lib, "curl_share_setopt", api.share_setopt, missing);
  resolve(lib, "curl_share_cleanup", api.share_cleanup, missing);
  resolve(lib, "curl_slist_append", api.slist_append, missing);
  resolve(lib, "curl_slist_free_all", api.slist_free_all, missing);
  if (!missing.empty()) {
    ::dlclose(lib);
    return Error(ErrorCode::kUnavailable,
                 std::string(library) + " lacks " + missing + "; it is too old for krunbox (7.85 or newer is needed)");
  }
  if (CURLcode rc = api.global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK)
    return Error(ErrorCode::kInternal, std::string("curl_global_init failed: ") + api.easy_strerror(rc));
  return api;
}

Result<const CurlApi*> curl_api() {
  static std::once_flag once;
  static std::optional<Result<CurlApi>> loaded;
  std::call_once(once, [] { loaded.emplace(load_curl("libcurl.so.4")); });
  if (!loaded->ok()) return loaded->error();
  return &**loaded;
}

}  // namespace krunbox::image
