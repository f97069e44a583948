# forma_expect_failure.cmake — run by CTest: a harness self-test that must fail for its reason.
#   -DSCRIPT=<cmake script to run> -DEXPECT_REGEX=<what its report must say>
#   -DARGS=<the script's -D arguments, separated by |>
# The script must exit non-zero AND print the report named by EXPECT_REGEX, so that a self-test
# cannot pass because the harness failed for some other reason (a missing file, a typo). CMake
# wraps long messages at blanks, so the output's runs of blanks and newlines are read as one space.
cmake_minimum_required(VERSION 3.25)
foreach(var SCRIPT EXPECT_REGEX ARGS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "forma_expect_failure: ${var} is not set")
  endif()
endforeach()
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND "${CMAKE_COMMAND}" ${args} -P "${SCRIPT}"
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(status EQUAL 0)
  message(FATAL_ERROR "the harness passed; it must fail with '${EXPECT_REGEX}':\n${out}")
endif()
string(REGEX REPLACE "[ \t\r\n]+" " " flat "${out}")
if(NOT flat MATCHES "${EXPECT_REGEX}")
  message(FATAL_ERROR "the harness failed, but not with '${EXPECT_REGEX}':\n${out}")
endif()
message(STATUS "the harness failed as it must (status ${status}) with '${EXPECT_REGEX}'")
