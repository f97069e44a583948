# forma_project_options(<target>): the flags of forma's own builds (tests, benchmarks, examples).
# Warnings are errors under GCC and Clang; users of the headers get none of this.
set(FORMA_WARNING_FLAGS -Wall -Wextra -Wpedantic -Werror)

function(forma_project_options target)
  target_link_libraries(${target} PRIVATE forma::forma)
  target_compile_features(${target} PRIVATE cxx_std_20)
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    # No silent fused multiply-adds: the same source rounds the same way under GCC and Clang,
    # with or without -march=native (the reproducibility tests rely on it).
    target_compile_options(${target} PRIVATE ${FORMA_WARNING_FLAGS} -ffp-contract=off)
    if(FORMA_NATIVE)
      target_compile_options(${target} PRIVATE -march=native)
    endif()
  endif()
endfunction()
