# forma_run_check.cmake — run by CTest: runs a program and checks its exit status and output.
#   -DPROGRAM=<path> -DARGS=<arguments, each followed by |> [-DWORKING_DIRECTORY=<dir>]
#   -DEXPECT_EXIT=zero|nonzero
#   [-DEXPECT_STDOUT_FILE=<file>] [-DAPPEND_NEWLINE=ON]  stdout must equal the file (+ "\n")
#   [-DEXPECT_STDOUT_REGEX=<regex>] [-DEXPECT_STDERR_REGEX=<regex>]
#   [-DSTDERR_ONE_LINE=ON]                               stderr must be exactly one line
#   [-DSTDIN_FILE=<file>]
cmake_minimum_required(VERSION 3.25)

# ARGS ends with one more "|", which keeps a last argument's trailing white space (cmake trims a
# -D value's). Each argument goes to the program as written, empty ones included, through
# bracket arguments (a list expanded unquoted would drop empty elements; a bracket argument drops
# a newline that opens it, so no argument may start with one).
string(REGEX REPLACE "\\|$" "" ARGS "${ARGS}")
string(REPLACE "|" ";" arguments "${ARGS}")
if(NOT DEFINED WORKING_DIRECTORY)
  set(WORKING_DIRECTORY ".")
endif()
set(command "execute_process(COMMAND [==[${PROGRAM}]==]")
foreach(argument IN LISTS arguments)
  string(APPEND command " [==[${argument}]==]")
endforeach()
string(APPEND command " WORKING_DIRECTORY [==[${WORKING_DIRECTORY}]==]"
                      " RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err")
if(DEFINED STDIN_FILE)
  string(APPEND command " INPUT_FILE [==[${STDIN_FILE}]==]")
endif()
cmake_language(EVAL CODE "${command})")

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
