# forma_compile_check.cmake — run by CTest (cmake -P) for compile-fail cases and header checks.
#
#   -DCOMPILER=<c++ compiler> -DFAMILY=gcc|clang -DSOURCE=<file.cpp> -DINCLUDE_DIR=<dir>
#   -DMODE=control|misuse|header -DWORK_DIR=<dir for outputs>
#
# control: SOURCE must compile to an object (warnings are errors).
# misuse:  SOURCE with -DFORMA_MISUSE must fail to compile, and
#            - the first "error" line of the output must match every `// expect:` regex, and
#            - the first diagnostic (its instantiation context, the error and its notes: all
#              output before the second error line) must match every `// expect-<FAMILY>:`
#              regex (where the compiler prints the two numbers).
# header:  SOURCE is a header; a TU including it twice must compile on its own.
cmake_minimum_required(VERSION 3.25)

foreach(var COMPILER FAMILY SOURCE INCLUDE_DIR MODE WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "forma_compile_check: ${var} is not set")
  endif()
endforeach()

file(MAKE_DIRECTORY "${WORK_DIR}")
get_filename_component(stem "${SOURCE}" NAME_WE)
set(flags -std=c++20 -Wall -Wextra -Wpedantic -Werror -fdiagnostics-color=never -I${INCLUDE_DIR})

if(MODE STREQUAL "header")
  file(RELATIVE_PATH relative "${INCLUDE_DIR}" "${SOURCE}")
  string(MAKE_C_IDENTIFIER "${relative}" id)
  set(tu "${WORK_DIR}/${id}.${FAMILY}.cpp")
  file(WRITE "${tu}" "#include <${relative}>\n#include <${relative}>\n")
  execute_process(COMMAND ${CMAKE_COMMAND} -E env LC_ALL=C ${COMPILER} ${flags} -fsyntax-only "${tu}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "header ${relative} does not compile on its own with ${FAMILY}:\n${out}")
  endif()
  message(STATUS "header ${relative} compiles on its own (${FAMILY})")
  return()
endif()

if(MODE STREQUAL "control")
  execute_process(COMMAND ${CMAKE_COMMAND} -E env LC_ALL=C ${COMPILER} ${flags} -c "${SOURCE}"
                          -o "${WORK_DIR}/${stem}.${FAMILY}.o"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "control build of ${stem} (without FORMA_MISUSE) failed with ${FAMILY}; "
                        "the case proves nothing until it compiles:\n${out}")
  endif()
  message(STATUS "control build of ${stem} compiles (${FAMILY})")
  return()
endif()

if(NOT MODE STREQUAL "misuse")
  message(FATAL_ERROR "forma_compile_check: unknown MODE '${MODE}'")
endif()

# The expectations, from the case's comment lines.
file(STRINGS "${SOURCE}" expect_lines REGEX "^// expect(-${FAMILY})?: ")
set(first_error_regexes "")
set(block_regexes "")
foreach(line IN LISTS expect_lines)
  if(line MATCHES "^// expect: (.*)$")
    list(APPEND first_error_regexes "${CMAKE_MATCH_1}")
  elseif(line MATCHES "^// expect-${FAMILY}: (.*)$")
    list(APPEND block_regexes "${CMAKE_MATCH_1}")
  endif()
endforeach()
if(NOT first_error_regexes)
  message(FATAL_ERROR "${stem}: no '// expect: <regex>' line; a compile-fail case must say what it expects")
endif()

execute_process(COMMAND ${CMAKE_COMMAND} -E env LC_ALL=C ${COMPILER} ${flags} -DFORMA_MISUSE
                        -fsyntax-only "${SOURCE}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "${stem}: the misuse build compiled with ${FAMILY}; it must not")
endif()

# Split into lines (protecting ';', which CMake lists would split on); find the first error line
# and the first diagnostic (everything before the second error line).
string(REPLACE ";" "<semicolon>" protected "${out}")
string(REPLACE "\n" ";" lines "${protected}")
set(first_error "")
set(block "")
set(seen_error FALSE)
foreach(line IN LISTS lines)
  string(REPLACE "<semicolon>" ";" line "${line}")
  if(line MATCHES "(^|: )(fatal )?error: ")
    if(seen_error)
      break()
    endif()
    set(seen_error TRUE)
    set(first_error "${line}")
  endif()
  string(APPEND block "${line}\n")
endforeach()
if(NOT seen_error)
  message(FATAL_ERROR "${stem}: the compiler failed but printed no error line:\n${out}")
endif()

set(failed FALSE)
foreach(regex IN LISTS first_error_regexes)
  if(NOT first_error MATCHES "${regex}")
    message(SEND_ERROR "${stem} (${FAMILY}): the first error does not match '${regex}':\n  ${first_error}")
    set(failed TRUE)
  endif()
endforeach()
foreach(regex IN LISTS block_regexes)
  if(NOT block MATCHES "${regex}")
    message(SEND_ERROR "${stem} (${FAMILY}): the first error's diagnostic does not match '${regex}'")
    set(failed TRUE)
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "full output of the misuse build:\n${out}")
endif()
message(STATUS "${stem} (${FAMILY}) fails as expected:\n${first_error}")
