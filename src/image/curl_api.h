// libcurl, loaded with dlopen the first time a registry is contacted rather
// than linked into every binary. Linking it costs each krunbox command ~13 ms
// at start (its dependency tree: Kerberos, LDAP, GnuTLS for RTMP, SSH, ...),
// although only `pull` and `run` of a missing image use it. As crun does for
// libkrun, every function is resolved once, and a missing one is a clear
// error instead of a crash.
#pragma once

#include <curl/curl.h>

#include "krunbox/error.h"

namespace krunbox::image {

struct CurlApi {
  CURLcode (*global_init)(long flags);
  CURL* (*easy_init)();
  void (*easy_cleanup)(CURL* handle);
  void (*easy_reset)(CURL* handle);
  CURLcode (*easy_setopt)(CURL* handle, CURLoption option, ...);
  CURLcode (*easy_perform)(CURL* handle);
  CURLcode (*easy_getinfo)(CURL* handle, CURLINFO info, ...);
  const char* (*easy_strerror)(CURLcode code);
  CURLSH* (*share_init)();
  CURLSHcode (*share_setopt)(CURLSH* share, CURLSHoption option, ...);
  CURLSHcode (*share_cleanup)(CURLSH* share);
  curl_slist* (*slist_append)(curl_slist* list, const char* value);
  void (*slist_free_all)(curl_slist* list);
};

// Loads libcurl.so.4 and runs curl_global_init, once per process (thread
// safe). The library stays loaded until the process exits: curl keeps
// global state that must not be unloaded under live handles.
Result<const CurlApi*> curl_api();

// Loads `library` and resolves the API from it; what curl_api() does with
// libcurl.so.4. Each call loads it again; for tests.
Result<CurlApi> load_curl(const char* library);

}  // namespace krunbox::image
