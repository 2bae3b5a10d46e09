# devicelogin_add_node_suite(NAME <ctest name> FILE <suite.test.mjs>
#     [ENV VAR=value...] [VIA program...] [ALLOW_SKIP regex...]
#     [LABELS label...] [TIMEOUT seconds] [FIXTURES_REQUIRED fixture...] [WORKING_DIRECTORY dir])
# Registers a node:test suite run through scripts/run-node-suite.mjs, so that no failure hides
# behind a skip: any failed or cancelled test, no test run, or a skipped describe fails the ctest; a
# skipped test shows as Skipped only when nothing failed, and fails under CI (env CI set) unless its
# reason matches an ALLOW_SKIP regex. VIA wraps node (e.g. scripts/with-keyring.sh); its exit 77 is
# a skip as well. Needs DEVICELOGIN_NODE (find_program(DEVICELOGIN_NODE node)).
function(devicelogin_add_node_suite)
  # Not PARSE_ARGV: "A=1;B=2" must split into two variables, as in set_tests_properties.
  cmake_parse_arguments(arg "" "NAME;FILE;TIMEOUT;WORKING_DIRECTORY"
    "ENV;VIA;ALLOW_SKIP;LABELS;FIXTURES_REQUIRED" ${ARGN})
  if(NOT arg_NAME OR NOT arg_FILE)
    message(FATAL_ERROR "devicelogin_add_node_suite: NAME and FILE are required")
  endif()
  if(NOT arg_TIMEOUT)
    set(arg_TIMEOUT 300)
  endif()
  if(NOT arg_WORKING_DIRECTORY)
    set(arg_WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  set(command ${DEVICELOGIN_NODE} ${PROJECT_SOURCE_DIR}/scripts/run-node-suite.mjs --name ${arg_NAME})
  foreach(pattern IN LISTS arg_ALLOW_SKIP)
    list(APPEND command --allow-skip ${pattern})
  endforeach()
  foreach(program IN LISTS arg_VIA)
    list(APPEND command --via ${program})
  endforeach()
  list(APPEND command -- ${arg_FILE})
  add_test(NAME ${arg_NAME} COMMAND ${command} WORKING_DIRECTORY ${arg_WORKING_DIRECTORY})
  set_tests_properties(${arg_NAME} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT ${arg_TIMEOUT})
  if(arg_LABELS)
    set_tests_properties(${arg_NAME} PROPERTIES LABELS "${arg_LABELS}")
  endif()
  if(arg_FIXTURES_REQUIRED)
    set_tests_properties(${arg_NAME} PROPERTIES FIXTURES_REQUIRED "${arg_FIXTURES_REQUIRED}")
  endif()
  if(arg_ENV)
    set_tests_properties(${arg_NAME} PROPERTIES ENVIRONMENT "${arg_ENV}")
  endif()
endfunction()
