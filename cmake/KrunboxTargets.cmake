# Shared settings for every krunbox target: warnings as errors on our own code,
# and the sanitizer flags when KRUNBOX_SANITIZE is on.

set(KRUNBOX_WARNINGS -Wall -Wextra -Werror -Wno-unused-parameter -Wnon-virtual-dtor)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  list(APPEND KRUNBOX_WARNINGS -Wno-unused-command-line-argument)
else()
  list(APPEND KRUNBOX_WARNINGS -Wshadow=local)
endif()

if(KRUNBOX_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

function(krunbox_defaults target)
  target_compile_options(${target} PRIVATE ${KRUNBOX_WARNINGS})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>)
endfunction()

# krunbox_library(NAME SOURCES ... DEPS ...): one library per src/ folder.
function(krunbox_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  krunbox_defaults(${name})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# krunbox_unit_test(NAME SOURCES ... DEPS ...): GoogleTest binary, labelled "unit".
function(krunbox_unit_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  krunbox_defaults(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main Threads::Threads)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "KRUNBOX_BUILD_DIR=${PROJECT_BINARY_DIR};KRUNBOX_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

# krunbox_fuzz_target(NAME SOURCES ... DEPS ...): a libFuzzer target, built only
# with KRUNBOX_FUZZ=ON (clang). Its seed corpus lives in fuzz/corpus/NAME/ and
# ctest runs it for KRUNBOX_FUZZ_SECONDS (label "fuzz").
set(KRUNBOX_FUZZ_SECONDS 20 CACHE STRING "How long ctest runs each fuzz target")
function(krunbox_fuzz_target name)
  if(NOT KRUNBOX_FUZZ)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  krunbox_defaults(${name})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  set(corpus ${PROJECT_SOURCE_DIR}/fuzz/corpus/${name})
  set(work ${PROJECT_BINARY_DIR}/fuzz-work/${name})
  add_test(NAME ${name}
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
            ${PROJECT_SOURCE_DIR}/scripts/run-fuzzer.sh $<TARGET_FILE:${name}> ${corpus} ${work} ${KRUNBOX_FUZZ_SECONDS})
  math(EXPR fuzz_timeout "${KRUNBOX_FUZZ_SECONDS} + 120")
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT ${fuzz_timeout})
endfunction()

# Any folder under tests/ or bench/ with a CMakeLists.txt is added.
function(krunbox_add_subdirs parent)
  file(GLOB children LIST_DIRECTORIES true ${parent}/*)
  foreach(child IN LISTS children)
    if(IS_DIRECTORY ${child} AND EXISTS ${child}/CMakeLists.txt)
      add_subdirectory(${child})
    endif()
  endforeach()
endfunction()

# krunbox_integration_test(NAME SOURCES ... DEPS ... [LABEL l] [TIMEOUT s]):
# a GoogleTest binary under tests/ that drives the built programs. It gets the
# paths of krunbox and its helpers in KRUNBOX_BIN_DIR.
function(krunbox_integration_test name)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_LABEL)
    set(ARG_LABEL integration)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  krunbox_defaults(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} krunbox_base GTest::gtest GTest::gtest_main Threads::Threads)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "KRUNBOX_BIN_DIR=${PROJECT_BINARY_DIR}/bin;KRUNBOX_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
