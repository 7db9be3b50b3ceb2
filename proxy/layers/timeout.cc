#include "proxy/layers/timeout.h"

#include <algorithm>

namespace weft::proxy::layers::timeout {

Deadlines::Deadlines(const router::Timeouts& route, std::optional<milliseconds> grpc_timeout,
                     milliseconds listener_idle, Clock::time_point received)
    : per_try_(route.per_try), idle_(route.idle.value_or(listener_idle)) {
  std::optional<milliseconds> request = route.request;
  if (grpc_timeout) request = request ? std::min(*request, *grpc_timeout) : *grpc_timeout;
  if (request) request_ = {received + *request, http::Failure::kRequestTimeout};
}

Limit Deadlines::attempt(Clock::time_point now) const {
  if (!per_try_) return request_;
  const Limit per_try{now + *per_try_, http::Failure::kPerTryTimeout};
  return per_try.when < request_.when ? per_try : request_;
}

}  // namespace weft::proxy::layers::timeout
