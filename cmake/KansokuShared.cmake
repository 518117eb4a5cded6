# Where the shared third-party test data lives (Prometheus' PromQL test scripts, the client
# scripts of shared/clients/). Tests read it in place and never copy it into the project.
#
# KANSOKU_SHARED_DIR, in order:
#   1. -DKANSOKU_SHARED_DIR=... or the environment variable of the same name;
#   2. ../shared beside the source tree (the working layout: /work/main next to /work/shared);
#   3. for a clone of a local repository (`git clone /work/main /tmp/x`, as CI does), the
#      shared/ folder beside the repository it was cloned from (remote.origin.url).
# A folder counts only if it has conformance/promql and clients/. When none is found, the tests
# that need it fail and say where they looked.
function(kansoku_shared_candidate out dir)
  get_filename_component(dir "${dir}" ABSOLUTE)
  if(IS_DIRECTORY "${dir}/conformance/promql" AND IS_DIRECTORY "${dir}/clients")
    set(${out} "${dir}" PARENT_SCOPE)
  endif()
endfunction()

set(_kansoku_shared "")
set(_kansoku_shared_tried "")
if(DEFINED KANSOKU_SHARED_DIR AND NOT KANSOKU_SHARED_DIR STREQUAL "")
  set(_kansoku_shared_given "${KANSOKU_SHARED_DIR}")
elseif(DEFINED ENV{KANSOKU_SHARED_DIR} AND NOT "$ENV{KANSOKU_SHARED_DIR}" STREQUAL "")
  set(_kansoku_shared_given "$ENV{KANSOKU_SHARED_DIR}")
endif()
if(DEFINED _kansoku_shared_given)
  kansoku_shared_candidate(_kansoku_shared "${_kansoku_shared_given}")
  list(APPEND _kansoku_shared_tried "${_kansoku_shared_given}")
else()
  kansoku_shared_candidate(_kansoku_shared "${PROJECT_SOURCE_DIR}/../shared")
  list(APPEND _kansoku_shared_tried "${PROJECT_SOURCE_DIR}/../shared")
  if(_kansoku_shared STREQUAL "")
    find_package(Git QUIET)
    if(GIT_FOUND)
      execute_process(COMMAND ${GIT_EXECUTABLE} -C "${PROJECT_SOURCE_DIR}" config --get remote.origin.url
                      OUTPUT_VARIABLE _origin OUTPUT_STRIP_TRAILING_WHITESPACE
                      RESULT_VARIABLE _rc ERROR_QUIET)
      string(REGEX REPLACE "^file://" "" _origin "${_origin}")
      if(_rc EQUAL 0 AND IS_ABSOLUTE "${_origin}" AND IS_DIRECTORY "${_origin}")
        get_filename_component(_origin "${_origin}" ABSOLUTE)  # drops a trailing "/."
        kansoku_shared_candidate(_kansoku_shared "${_origin}/../shared")
        list(APPEND _kansoku_shared_tried "${_origin}/../shared")
      endif()
    endif()
  endif()
endif()
if(_kansoku_shared STREQUAL "")
  list(JOIN _kansoku_shared_tried ", " _tried)
  message(WARNING "shared test data not found (looked in: ${_tried}); set KANSOKU_SHARED_DIR. "
                  "The PromQL conformance and logback tests will fail.")
  # Kept as the first place looked so the failing tests name it.
  list(GET _kansoku_shared_tried 0 _kansoku_shared)
  get_filename_component(_kansoku_shared "${_kansoku_shared}" ABSOLUTE)
else()
  message(STATUS "shared test data: ${_kansoku_shared}")
endif()
set(KANSOKU_SHARED_DIR_RESOLVED "${_kansoku_shared}")
