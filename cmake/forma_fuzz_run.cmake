# forma_fuzz_run.cmake — run by CTest: one libFuzzer harness for a bounded time.
#   -DFUZZER=<binary> -DSEEDS=<committed seed corpus> -DWORK_DIR=<scratch> -DSECONDS=<n>
# New inputs go to a scratch corpus (the committed seeds are only read). Any crash, leak,
# sanitizer report, timeout or out-of-memory makes libFuzzer exit non-zero: the test fails and
# prints the report; the crashing input is left in WORK_DIR.
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/corpus")
execute_process(
  COMMAND "${FUZZER}" -max_total_time=${SECONDS} -seed=1 -timeout=10 -rss_limit_mb=2048
          -print_final_stats=1 "-artifact_prefix=${WORK_DIR}/" "${WORK_DIR}/corpus" "${SEEDS}"
  WORKING_DIRECTORY "${WORK_DIR}"
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
string(REGEX MATCH "Done [0-9]+ runs in [0-9]+ second" done "${out}")
string(REGEX MATCH "stat::number_of_executed_units: *[0-9]+" executed "${out}")
if(NOT status EQUAL 0)
  message(FATAL_ERROR "fuzzer ${FUZZER} failed (status ${status}):\n${out}")
endif()
message(STATUS "${FUZZER}: ${done}; ${executed}")
