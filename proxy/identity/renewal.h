// When a proxy asks for its next certificate. Pure: the caller supplies the
// jitter draws (uniform in [0, 1)), so tests pin them.
#pragma once

#include <chrono>

namespace weft::proxy::identity {

// At half the certificate's remaining life from `received` (when it
// arrived), plus up to a tenth of it, so proxies that started together do
// not all renew in the same second.
std::chrono::system_clock::time_point renewal_time(std::chrono::system_clock::time_point received,
                                                   std::chrono::system_clock::time_point not_after,
                                                   double jitter);

// The wait after `failures` failed requests in a row (1 or more): 1 s,
// doubling to at most 60 s, drawn from the upper half of that.
std::chrono::milliseconds retry_delay(unsigned failures, double jitter);

}  // namespace weft::proxy::identity
