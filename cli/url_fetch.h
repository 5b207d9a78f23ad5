// The fetcher `darasa validate/render/apply` hands the templates loader for
// `schedule: {ical: URL}`: one GET over providers/http's client (libcurl),
// with a deadline, a size cap and a few redirects. https:// anywhere; plain
// http:// only to 127.0.0.1 / localhost / [::1] (tests). Thread-safe (no state).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "provisioner/status.h"

namespace darasa::cli {

struct UrlFetchOptions {
  std::chrono::milliseconds timeout{std::chrono::seconds(20)};  // for the whole fetch, redirects included
  size_t maxBytes = 8u << 20;                                    // a larger body is an error, not truncated
  int maxRedirects = 5;
};

// The body of a 2xx answer. Errors name the URL: kInvalid for a URL we do not
// fetch (scheme, non-loopback http://) or a body over maxBytes; kNotFound for
// 404/410; kDenied for 401/403; kUnavailable for other HTTP statuses and for
// transport errors (with curl's reason); kTimeout when the deadline passes.
Result<std::string> fetchUrl(const std::string& url, const UrlFetchOptions& options = {});

}  // namespace darasa::cli
