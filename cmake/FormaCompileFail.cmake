# FormaCompileFail.cmake — compile-fail tests and header self-containment tests.
#
# forma_find_test_compilers(<out_var>): "family=compiler" pairs for g++ and clang++, whichever
#   are installed (the build's own compiler first).
# forma_add_compile_fail_tests(<dir>): for each <dir>/*.cpp and each compiler, registers
#   compile_fail.<family>.<case>.control  — builds without FORMA_MISUSE, must succeed;
#   compile_fail.<family>.<case>.misuse   — builds with FORMA_MISUSE, must fail and match the
#                                           case's `// expect:` / `// expect-<family>:` regexes.
# forma_add_header_tests(<include_dir>): headers.<family>.<header> — each public header
#   compiles alone (included twice, to catch a missing include guard too).
set(FORMA_COMPILE_CHECK_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/forma_compile_check.cmake")

function(forma_find_test_compilers out_var)
  find_program(FORMA_GXX NAMES g++ g++-12)
  find_program(FORMA_CLANGXX NAMES clang++ clang++-14 clang++-15 clang++-16)
  set(result "")
  if(FORMA_GXX)
    list(APPEND result "gcc=${FORMA_GXX}")
  endif()
  if(FORMA_CLANGXX)
    list(APPEND result "clang=${FORMA_CLANGXX}")
  endif()
  set(${out_var} "${result}" PARENT_SCOPE)
endfunction()

function(forma_add_compile_fail_tests dir include_dir)
  forma_find_test_compilers(compilers)
  file(GLOB cases CONFIGURE_DEPENDS "${dir}/*.cpp")
  foreach(case IN LISTS cases)
    get_filename_component(name "${case}" NAME_WE)
    foreach(pair IN LISTS compilers)
      string(REPLACE "=" ";" pair_list "${pair}")
      list(GET pair_list 0 family)
      list(GET pair_list 1 compiler)
      foreach(mode control misuse)
        set(test "compile_fail.${family}.${name}.${mode}")
        add_test(NAME ${test}
                 COMMAND ${CMAKE_COMMAND} -DCOMPILER=${compiler} -DFAMILY=${family}
                         -DSOURCE=${case} -DINCLUDE_DIR=${include_dir} -DMODE=${mode}
                         -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/work
                         -P ${FORMA_COMPILE_CHECK_SCRIPT})
        set_tests_properties(${test} PROPERTIES LABELS "compile_fail;${family}")
      endforeach()
    endforeach()
  endforeach()
endfunction()

function(forma_add_header_tests include_dir)
  forma_find_test_compilers(compilers)
  file(GLOB_RECURSE headers CONFIGURE_DEPENDS "${include_dir}/forma/*.hpp")
  foreach(header IN LISTS headers)
    file(RELATIVE_PATH relative "${include_dir}" "${header}")
    foreach(pair IN LISTS compilers)
      string(REPLACE "=" ";" pair_list "${pair}")
      list(GET pair_list 0 family)
      list(GET pair_list 1 compiler)
      set(test "headers.${family}.${relative}")
      add_test(NAME ${test}
               COMMAND ${CMAKE_COMMAND} -DCOMPILER=${compiler} -DFAMILY=${family}
                       -DSOURCE=${header} -DINCLUDE_DIR=${include_dir} -DMODE=header
                       -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/work
                       -P ${FORMA_COMPILE_CHECK_SCRIPT})
      set_tests_properties(${test} PROPERTIES LABELS "headers;${family}")
    endforeach()
  endforeach()
endfunction()
