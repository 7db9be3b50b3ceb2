// Did-you-mean: the closest of a set of names to one a user typed.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft::spelling {

// Levenshtein distance: insertions, deletions and substitutions.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `typed`, if one is within `max_distance` edits
// (ties: the first). A candidate equal to `typed` is returned too.
std::optional<std::string> closest(std::string_view typed,
                                   const std::vector<std::string>& candidates,
                                   std::size_t max_distance);

}  // namespace weft::spelling
