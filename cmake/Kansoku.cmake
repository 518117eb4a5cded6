# Project-wide compile flags and the helpers every src/<subsystem>/CMakeLists.txt uses.
include(GoogleTest)

add_library(kansoku_flags INTERFACE)
target_compile_options(kansoku_flags INTERFACE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
if(KANSOKU_WERROR)
  target_compile_options(kansoku_flags INTERFACE -Werror)
endif()
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  target_compile_options(kansoku_flags INTERFACE -Wthread-safety)
endif()
target_compile_definitions(kansoku_flags INTERFACE BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
if(KANSOKU_SANITIZE)
  string(REPLACE ";" "," _san "${KANSOKU_SANITIZE}")
  target_compile_options(kansoku_flags INTERFACE -fsanitize=${_san} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(kansoku_flags INTERFACE -fsanitize=${_san})
endif()

# kansoku_library(NAME SOURCES a.cc b.cc DEPS kansoku_base ...)
# One static library per subsystem; its DEPS are the allowed dependency graph.
function(kansoku_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC kansoku_flags ${ARG_DEPS})
endfunction()

# kansoku_test(NAME SOURCES x_test.cc ... DEPS lib ...)
# One GoogleTest binary per subsystem, labelled "unit"; every TEST becomes a ctest entry.
function(kansoku_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE kansoku_flags ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST PROPERTIES LABELS unit TIMEOUT 120)
  add_dependencies(unit_tests ${name})
endfunction()

# kansoku_bench(NAME SOURCES x_bench.cc DEPS lib ...): Google Benchmark beside hot code.
function(kansoku_bench name)
  if(NOT KANSOKU_BENCH)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE kansoku_flags ${ARG_DEPS} benchmark::benchmark benchmark::benchmark_main)
endfunction()

add_custom_target(unit_tests)
