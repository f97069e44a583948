# forma_fuzz_run.cmake — run by CTest: one libFuzzer harness for a bounded time.
#   -DFUZZER=<binary> -DSEEDS=<seed directories, separated by |> -DWORK_DIR=<scratch> -DSECONDS=<n>
#   [-DINPUT_TIMEOUT=<seconds one input may take, default 10>]
# New inputs go to a scratch corpus (the seed directories are only read). Any crash, leak,
# sanitizer report, timeout or out-of-memory makes libFuzzer exit non-zero: the test fails and
# prints the report; the input is left in WORK_DIR (crash-*, leak-*, timeout-*, oom-*) and the
# whole output in WORK_DIR/fuzzer.log and libFuzzer's exit status in WORK_DIR/fuzzer.status. On success
# it prints libFuzzer's final line and how many inputs it ran.
cmake_minimum_required(VERSION 3.25)
if(NOT DEFINED INPUT_TIMEOUT)
  set(INPUT_TIMEOUT 10)
endif()
string(REPLACE "|" ";" seed_dirs "${SEEDS}")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/corpus")
execute_process(
  COMMAND "${FUZZER}" -max_total_time=${SECONDS} -seed=1 -timeout=${INPUT_TIMEOUT} -rss_limit_mb=2048
          -print_final_stats=1 "-artifact_prefix=${WORK_DIR}/" "${WORK_DIR}/corpus" ${seed_dirs}
  WORKING_DIRECTORY "${WORK_DIR}"
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
file(WRITE "${WORK_DIR}/fuzzer.log" "${out}")
file(WRITE "${WORK_DIR}/fuzzer.status" "${status}")
if(NOT status EQUAL 0)
  message(FATAL_ERROR "fuzzer ${FUZZER} failed (status ${status}):\n${out}")
endif()
string(REGEX MATCH "#[0-9]+[ \t]+DONE[^\n]*" final "${out}")
string(REGEX MATCH "Done [0-9]+ runs in [0-9]+ second" done "${out}")
string(REGEX MATCH "stat::number_of_executed_units: *[0-9]+" executed "${out}")
string(REGEX MATCH "INFO: seed corpus: files: [0-9]+[^\n]*" seeds "${out}")
if(NOT done OR NOT executed)
  message(FATAL_ERROR "fuzzer ${FUZZER} exited 0 but printed no final statistics:\n${out}")
endif()
get_filename_component(name "${FUZZER}" NAME)
message(STATUS "${name}: ${seeds}\n${name}: ${final}\n${name}: ${done}(s); ${executed}")
