# Project-wide helpers. Our own code is built with warnings as errors;
# third-party headers are included as system headers so their warnings stay
# theirs.
set(WEFT_WARNINGS -Wall -Wextra -Wpedantic -Wnon-virtual-dtor -Werror)
# The sanitizer and fuzzing build uses clang (libFuzzer is clang's): its
# spelling of "a local shadows a local" differs from GCC's, and clang 14
# also counts members a designated initializer leaves to their defaults as
# missing, which our test tables do on purpose.
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  list(APPEND WEFT_WARNINGS -Wshadow-uncaptured-local -Wno-missing-field-initializers)
else()
  list(APPEND WEFT_WARNINGS -Wshadow=local)
endif()

function(weft_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${WEFT_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

function(weft_binary name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${WEFT_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
endfunction()

# One GoogleTest binary per folder; each TEST is its own ctest case.
include(GoogleTest)
function(weft_unit_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_compile_options(${name} PRIVATE ${WEFT_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${name} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR} DISCOVERY_TIMEOUT 30
                       PROPERTIES TIMEOUT 60 LABELS unit)
endfunction()
