# forma_run_check.cmake — run by CTest: runs a program and checks its exit status and output.
#   -DPROGRAM=<path> -DARGS=<arguments separated by |> [-DWORKING_DIRECTORY=<dir>]
#   -DEXPECT_EXIT=zero|nonzero
#   [-DEXPECT_STDOUT_FILE=<file>] [-DAPPEND_NEWLINE=ON]  stdout must equal the file (+ "\n")
#   [-DEXPECT_STDOUT_REGEX=<regex>] [-DEXPECT_STDERR_REGEX=<regex>]
#   [-DSTDERR_ONE_LINE=ON]                               stderr must be exactly one line
#   [-DSTDIN_FILE=<file>]
cmake_minimum_required(VERSION 3.25)

string(REPLACE "|" ";" arguments "${ARGS}")
if(NOT DEFINED WORKING_DIRECTORY)
  set(WORKING_DIRECTORY ".")
endif()
set(input_option "")
if(DEFINED STDIN_FILE)
  set(input_option INPUT_FILE "${STDIN_FILE}")
endif()
execute_process(COMMAND "${PROGRAM}" ${arguments}
                WORKING_DIRECTORY "${WORKING_DIRECTORY}"
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err ${input_option})

if(EXPECT_EXIT STREQUAL "zero" AND NOT status EQUAL 0)
  message(FATAL_ERROR "exit status ${status}, expected 0\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(EXPECT_EXIT STREQUAL "nonzero" AND status EQUAL 0)
  message(FATAL_ERROR "exit status 0, expected a failure\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(DEFINED EXPECT_STDOUT_FILE)
  file(READ "${EXPECT_STDOUT_FILE}" expected)
  if(APPEND_NEWLINE)
    string(APPEND expected "\n")
  endif()
  if(NOT out STREQUAL expected)
    file(WRITE "${CMAKE_CURRENT_BINARY_DIR}/actual_stdout.txt" "${out}")
    message(FATAL_ERROR "stdout differs from ${EXPECT_STDOUT_FILE} (append newline: ${APPEND_NEWLINE})\n"
                        "--- got ---\n${out}\n--- expected ---\n${expected}")
  endif()
endif()
if(DEFINED EXPECT_STDOUT_REGEX AND NOT out MATCHES "${EXPECT_STDOUT_REGEX}")
  message(FATAL_ERROR "stdout does not match '${EXPECT_STDOUT_REGEX}':\n${out}")
endif()
if(DEFINED EXPECT_STDERR_REGEX AND NOT err MATCHES "${EXPECT_STDERR_REGEX}")
  message(FATAL_ERROR "stderr does not match '${EXPECT_STDERR_REGEX}':\n${err}")
endif()
if(STDERR_ONE_LINE)
  string(REGEX MATCHALL "\n" newlines "${err}")
  list(LENGTH newlines count)
  if(NOT count EQUAL 1)
    message(FATAL_ERROR "stderr is ${count} lines, expected one:\n${err}")
  endif()
endif()
message(STATUS "ok: exit ${status}; stderr: ${err}")
