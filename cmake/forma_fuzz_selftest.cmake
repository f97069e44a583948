# forma_fuzz_selftest.cmake — run by CTest: proves that forma_fuzz_run.cmake fails on a finding.
#   -DFUZZER=<tests/fuzz/selftest harness> -DSEED=<the seed's bytes: its first byte picks the bug>
#   -DWORK_DIR=<scratch> -DEXPECT_REGEX=<what the report must say> -DARTIFACT=<crash|leak|timeout|oom>
#   -DRUNNER=<cmake/forma_fuzz_run.cmake>
# The run must fail, print the report (fuzzer.log, unwrapped), and leave the input that triggered it.
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE "${WORK_DIR}")
file(WRITE "${WORK_DIR}/seeds/seed" "${SEED}")
execute_process(
  COMMAND "${CMAKE_COMMAND}" -DFUZZER=${FUZZER} -DSEEDS=${WORK_DIR}/seeds -DWORK_DIR=${WORK_DIR}/run
          -DSECONDS=20 -DINPUT_TIMEOUT=2 -P "${RUNNER}"
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(status EQUAL 0)
  message(FATAL_ERROR "the fuzz run passed on a harness with a deliberate '${SEED}' bug:\n${out}")
endif()
# CMake wraps a long FATAL_ERROR message at word boundaries (the fuzzer's path makes it long), so
# the runner's report is matched with any run of blanks and newlines between its words, and the
# status is read from the file the runner writes rather than from the wrapped text.
if(NOT out MATCHES "fuzzer[ \t\r\n]+.+[ \t\r\n]+failed[ \t\r\n]+\\(status[ \t\r\n]+[0-9]+\\)")
  message(FATAL_ERROR "the fuzz run failed without the runner's report:\n${out}")
endif()
if(NOT EXISTS "${WORK_DIR}/run/fuzzer.status")
  message(FATAL_ERROR "the runner wrote no fuzzer.status:\n${out}")
endif()
file(READ "${WORK_DIR}/run/fuzzer.status" fuzzer_status)
if(NOT fuzzer_status MATCHES "^[0-9]+$" OR fuzzer_status EQUAL 0)
  message(FATAL_ERROR "libFuzzer's status was '${fuzzer_status}', not a failure:\n${out}")
endif()
file(READ "${WORK_DIR}/run/fuzzer.log" log)
if(NOT log MATCHES "${EXPECT_REGEX}")
  message(FATAL_ERROR "the report does not match '${EXPECT_REGEX}':\n${log}")
endif()
file(GLOB artifacts "${WORK_DIR}/run/${ARTIFACT}-*")
if(NOT artifacts)
  message(FATAL_ERROR "no ${ARTIFACT}-* input left in ${WORK_DIR}/run:\n${out}")
endif()
message(STATUS "the run failed as it must (libFuzzer status ${fuzzer_status}), matched '${EXPECT_REGEX}', kept ${artifacts}")
