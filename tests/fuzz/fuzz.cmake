# tests/fuzz/fuzz.cmake — the fuzz harnesses (issue #9), included from the fuzzing block at
# the end of the top-level CMakeLists.txt (this folder has no CMakeLists.txt on purpose: it
# needs MAMC_FUZZ_ON, which that block sets after tests/ has been added).
#
#   fuzz_replay (always, label "fuzz;unit"): every corpus and crash file through every
#     harness, in the normal build (and under ASan in the sanitizer build).
#   fuzz_<h> (MAMC_FUZZ_ON): libFuzzer executables, built on their own instrumented copy of
#     the parsers' sources (-fsanitize=fuzzer-no-link,address,undefined), so the rest of the
#     build stays as configured; ctest runs each for MAMC_FUZZ_SECONDS (label "fuzz").
#   tests/fuzz/run.sh SECONDS builds these in build-fuzz/ and runs them longer.
set(MAMC_FUZZ_HARNESSES mam ir yaml safetensors vocab)
set(MAMC_FUZZ_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz)
set(MAMC_FUZZ_SOURCES)
foreach(h ${MAMC_FUZZ_HARNESSES})
  list(APPEND MAMC_FUZZ_SOURCES ${MAMC_FUZZ_DIR}/fuzz_${h}.c)
endforeach()

if(MAMC_BUILD_TESTS)
  add_executable(fuzz_replay ${MAMC_FUZZ_DIR}/replay.c ${MAMC_FUZZ_SOURCES})
  target_include_directories(fuzz_replay PRIVATE ${MAMC_FUZZ_DIR} ${PROJECT_SOURCE_DIR}/runtime/data)
  target_link_libraries(fuzz_replay PRIVATE mamc_frontend mamc_passes mamc_runtime mamc_ir)
  add_test(NAME fuzz_replay COMMAND fuzz_replay ${MAMC_FUZZ_DIR} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(fuzz_replay PROPERTIES LABELS "fuzz;unit" TIMEOUT 300)
  # as tests/CMakeLists.txt does for the C unit tests (MAMC_VALGRIND_EXE is a cache variable)
  if(MAMC_VALGRIND_EXE AND NOT MAMC_SANITIZE AND NOT MAMC_VALGRIND STREQUAL "OFF")
    add_test(NAME valgrind_fuzz_replay COMMAND ${MAMC_VALGRIND_EXE} -q --error-exitcode=1 --leak-check=full
             --suppressions=${PROJECT_SOURCE_DIR}/tests/valgrind.supp $<TARGET_FILE:fuzz_replay> ${MAMC_FUZZ_DIR}
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(valgrind_fuzz_replay PROPERTIES LABELS "valgrind" TIMEOUT 600)
  endif()
endif()

if(MAMC_FUZZ_ON)
  set(MAMC_FUZZ_SECONDS 10 CACHE STRING "How long ctest runs each libFuzzer harness (label fuzz)")
  set(FUZZ_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
  file(GLOB FUZZ_DATA_SRC CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/runtime/data/*.c)
  add_library(mamc_fuzz_core STATIC ${IR_SRC} ${FE_SRC} ${PASS_SRC} ${FUZZ_DATA_SRC}
              ${PROJECT_SOURCE_DIR}/runtime/tensor.c ${PROJECT_SOURCE_DIR}/runtime/safetensors.c)
  target_compile_options(mamc_fuzz_core PRIVATE ${FUZZ_FLAGS} -fsanitize=fuzzer-no-link)
  target_compile_definitions(mamc_fuzz_core PRIVATE MAMC_STDLIB_DIR="${PROJECT_SOURCE_DIR}/stdlib"
                             MAMC_STDLIB_INSTALL_DIR="${CMAKE_INSTALL_PREFIX}/share/mamc/stdlib")
  target_include_directories(mamc_fuzz_core PUBLIC ir frontend passes runtime runtime/data include ${YAML_INCLUDE_DIR})
  target_link_libraries(mamc_fuzz_core PUBLIC ${YAML_LIBRARY} Threads::Threads m)
  foreach(h ${MAMC_FUZZ_HARNESSES})
    add_executable(fuzz_${h} ${MAMC_FUZZ_DIR}/fuzz_${h}.c)
    target_compile_definitions(fuzz_${h} PRIVATE MAMC_LIBFUZZER=1)
    target_compile_options(fuzz_${h} PRIVATE ${FUZZ_FLAGS} -fsanitize=fuzzer)
    target_link_options(fuzz_${h} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_include_directories(fuzz_${h} PRIVATE ${MAMC_FUZZ_DIR})
    target_link_libraries(fuzz_${h} PRIVATE mamc_fuzz_core)
    if(MAMC_BUILD_TESTS)
      # New inputs go to the build tree; the committed corpus is read only.
      file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz-corpus/${h} ${CMAKE_BINARY_DIR}/fuzz-artifacts/${h})
      set(dict)
      if(EXISTS ${MAMC_FUZZ_DIR}/${h}.dict)
        set(dict -dict=${MAMC_FUZZ_DIR}/${h}.dict)
      endif()
      add_test(NAME fuzz_${h} COMMAND fuzz_${h} -max_total_time=${MAMC_FUZZ_SECONDS} -timeout=10
               -rss_limit_mb=2048 -print_final_stats=1 ${dict}
               -artifact_prefix=${CMAKE_BINARY_DIR}/fuzz-artifacts/${h}/
               ${CMAKE_BINARY_DIR}/fuzz-corpus/${h} ${MAMC_FUZZ_DIR}/corpus/${h}
               WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
      set_tests_properties(fuzz_${h} PROPERTIES LABELS "fuzz" TIMEOUT 300)
    endif()
  endforeach()
endif()
