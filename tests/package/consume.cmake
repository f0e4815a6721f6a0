# cmake -P script: build the consumer project against sgdsde in MODE (find_package | add_subdirectory).
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
  message("${out}")
endfunction()

if(MODE STREQUAL "find_package")
  # Install sgdsde alone (no tests/bench/examples) into a private prefix, then find it there.
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/sgdsde-build -G ${GENERATOR}
      -DSGDSDE_BUILD_TESTS=OFF -DSGDSDE_BUILD_BENCH=OFF -DSGDSDE_BUILD_EXAMPLES=OFF
      -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix)
  run(${CMAKE_COMMAND} --install ${WORK_DIR}/sgdsde-build)
  set(extra -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
else()
  set(extra -DSGDSDE_SOURCE_DIR=${SOURCE_DIR})
endif()
run(${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/consumer-build -G ${GENERATOR}
    -DCMAKE_BUILD_TYPE=Release -DCONSUME=${MODE} ${extra})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer-build)
run(${WORK_DIR}/consumer-build/consumer)
run(${CMAKE_COMMAND} -E chdir ${WORK_DIR}/consumer-build ${WORK_DIR}/consumer-build/consumer_idx)
if(EXISTS ${WORK_DIR}/consumer-build/consumer_openmp)
  run(${WORK_DIR}/consumer-build/consumer_openmp)
endif()
