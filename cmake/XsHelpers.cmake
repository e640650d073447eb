# Small helpers so every module declares its programs and tests the same way.

# xs_unit_test(NAME SOURCES... LIBS ...): a cmocka test labelled `unit`.
function(xs_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;INCLUDES" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE PkgConfig::CMOCKA ${T_LIBS})
  if(T_INCLUDES)
    target_include_directories(${name} PRIVATE ${T_INCLUDES})
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 120)
endfunction()

# xs_fuzz_target(NAME SOURCES... LIBS ... CORPUS dir): a libFuzzer target,
# run for XS_FUZZ_SECONDS under the `fuzz` label. Built only when XS_FUZZ is ON.
function(xs_fuzz_target name)
  cmake_parse_arguments(T "" "CORPUS" "SOURCES;LIBS;INCLUDES" ${ARGN})
  if(NOT XS_FUZZ)
    return()
  endif()
  add_executable(${name} ${T_SOURCES})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(${name} PRIVATE ${T_LIBS})
  if(T_INCLUDES)
    target_include_directories(${name} PRIVATE ${T_INCLUDES})
  endif()
  set(_corpus_args "")
  if(T_CORPUS)
    set(_corpus_args ${T_CORPUS})
  endif()
  add_test(NAME ${name}
           COMMAND ${CMAKE_SOURCE_DIR}/tests/fuzz/run-fuzzer $<TARGET_FILE:${name}>
                   ${XS_FUZZ_SECONDS} ${CMAKE_CURRENT_BINARY_DIR}/${name}.corpus ${_corpus_args})
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 300)
endfunction()
