# Compiler launcher and linker: ccache keeps rebuilds cheap, mold keeps the
# links of gRPC-heavy binaries short. Both are optional so a bare machine
# still builds.
find_program(WEFT_CCACHE ccache)
if(WEFT_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${WEFT_CCACHE})
endif()
find_program(WEFT_MOLD mold)
if(WEFT_MOLD)
  add_link_options(-fuse-ld=mold)
endif()

if(WEFT_SANITIZE)
  add_compile_options(-fsanitize=${WEFT_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${WEFT_SANITIZE})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND WEFT_SANITIZE MATCHES "undefined")
    # Clang 14's function-type check breaks code generation for coroutines
    # ("Cannot represent a difference across sections"); GCC has no such
    # check, so the sanitizer tier loses nothing it had.
    add_compile_options(-fno-sanitize=function)
  endif()
endif()

# The fuzzing build (make fuzz, clang only): every library gets libFuzzer's
# coverage instrumentation; fuzz/ links each harness with libFuzzer's main.
if(WEFT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "WEFT_FUZZ needs clang (configure with CXX=clang++)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
