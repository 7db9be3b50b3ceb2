// Applies an RFC 6902 JSON Patch (add, remove, replace, test), as the API
// server does with the webhook's answer: `meshctl inject` uses it to show
// exactly what the webhook would store, and the tests to check the patch.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "common/result.h"

namespace weft::injector {

// Applies every operation in order; on error `document` may be partly patched.
Result<void> apply_patch(boost::json::value& document, const boost::json::array& patch);

}  // namespace weft::injector
