# CUDA kernels: runtime/cuda/kernels/ (.cu files).
# - With nvcc (option SEER_CUDA, on by default): each .cu becomes a fatbin (SASS for
#   SEER_CUDA_SASS_ARCHS, PTX for SEER_CUDA_PTX_ARCH so newer GPUs JIT it), embedded in libseer by
#   cmake/cuda_embed.cmake. ptxas runs with -v; a spill or more registers than SEER_CUDA_MAX_REGISTERS
#   fails the build (cmake/cuda_nvcc.cmake reads its report).
# - Always: the same .cu sources compile as host C under -DSEER_EMU into libseer, where the grid
#   emulator (runtime/cuda/emu) runs them, so every build tests the kernels' indexing on the CPU.
# Sets SEER_CUDA_SOURCES (to add to libseer) and SEER_CUDA_FATBIN_C (the generated embedding).
option(SEER_CUDA "Compile the CUDA kernels into a fatbin when nvcc is found" ON)
# CUDA 13 builds sm_75 and newer; the engine needs bf16 tensor cores (sm_80+).
set(SEER_CUDA_SASS_ARCHS "80;86;89;90" CACHE STRING "SASS targets of the embedded fatbin")
set(SEER_CUDA_PTX_ARCH "80" CACHE STRING "PTX target embedded for GPUs newer than the SASS targets")
set(SEER_CUDA_MAX_REGISTERS "128" CACHE STRING "Register budget per kernel; above it the build fails")

file(GLOB SEER_CUDA_KERNELS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/runtime/cuda/kernels/*.cu)
file(GLOB SEER_CUDA_KERNEL_HEADERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/runtime/cuda/kernels/*.h)
set_source_files_properties(${SEER_CUDA_KERNELS} PROPERTIES LANGUAGE C COMPILE_OPTIONS "-xc;-DSEER_EMU"
  OBJECT_DEPENDS "${SEER_CUDA_KERNEL_HEADERS}")
set(SEER_CUDA_SOURCES ${SEER_CUDA_KERNELS})

if(SEER_CUDA)
  find_program(SEER_NVCC nvcc PATHS /usr/local/cuda/bin)
endif()
set(SEER_CUDA_FATBIN_C ${CMAKE_BINARY_DIR}/generated/cuda_fatbin.c)
set(fatbins "")
set(SEER_CUDA_TOOLKIT_VERSION 0)
set(SEER_CUDA_ARCH_TEXT "")
if(SEER_CUDA AND SEER_NVCC)
  execute_process(COMMAND ${SEER_NVCC} --version OUTPUT_VARIABLE nvcc_version)
  string(REGEX MATCH "release ([0-9]+)\\.([0-9]+)" _ "${nvcc_version}")
  math(EXPR SEER_CUDA_TOOLKIT_VERSION "${CMAKE_MATCH_1} * 1000 + ${CMAKE_MATCH_2} * 10")
  set(gencode "")
  foreach(a ${SEER_CUDA_SASS_ARCHS})
    list(APPEND gencode -gencode arch=compute_${a},code=sm_${a})
    string(APPEND SEER_CUDA_ARCH_TEXT "sm_${a} ")
  endforeach()
  list(APPEND gencode -gencode arch=compute_${SEER_CUDA_PTX_ARCH},code=compute_${SEER_CUDA_PTX_ARCH})
  string(APPEND SEER_CUDA_ARCH_TEXT "+ PTX compute_${SEER_CUDA_PTX_ARCH}")
  # Passed to the script as one argument: ';' would split it on the command line.
  string(REPLACE ";" "|" gencode "${gencode}")
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/cuda)
  message(STATUS "CUDA kernels: nvcc ${CMAKE_MATCH_1}.${CMAKE_MATCH_2}, ${SEER_CUDA_ARCH_TEXT}")
  foreach(cu ${SEER_CUDA_KERNELS})
    get_filename_component(stem ${cu} NAME_WE)
    set(fb ${CMAKE_BINARY_DIR}/cuda/${stem}.fatbin)
    add_custom_command(OUTPUT ${fb}
      COMMAND ${CMAKE_COMMAND} -DNVCC=${SEER_NVCC} -DSRC=${cu} -DOUT=${fb}
              -DMAX_REGISTERS=${SEER_CUDA_MAX_REGISTERS} "-DGENCODE=${gencode}"
              -DINCLUDE=${CMAKE_SOURCE_DIR}/runtime/cuda/kernels
              -P ${CMAKE_SOURCE_DIR}/cmake/cuda_nvcc.cmake
      DEPENDS ${cu} ${SEER_CUDA_KERNEL_HEADERS} ${CMAKE_SOURCE_DIR}/cmake/cuda_nvcc.cmake
      COMMENT "nvcc ${stem}.cu -> fatbin (${SEER_CUDA_ARCH_TEXT})" VERBATIM)
    list(APPEND fatbins ${fb})
  endforeach()
else()
  # Passed to the script as one argument: ';' would split it on the command line.
  string(REPLACE ";" "|" gencode "${gencode}")
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/cuda)
  message(STATUS "CUDA kernels: nvcc not found (or SEER_CUDA=OFF): CPU-only build")
endif()
string(REPLACE ";" "|" fatbin_args "${fatbins}")
add_custom_command(OUTPUT ${SEER_CUDA_FATBIN_C}
  COMMAND ${CMAKE_COMMAND} "-DFATBINS=${fatbin_args}" -DOUT=${SEER_CUDA_FATBIN_C}
          -DVERSION=${SEER_CUDA_TOOLKIT_VERSION} "-DARCHES=${SEER_CUDA_ARCH_TEXT}"
          -P ${CMAKE_SOURCE_DIR}/cmake/cuda_embed.cmake
  DEPENDS ${fatbins} ${CMAKE_SOURCE_DIR}/cmake/cuda_embed.cmake
  COMMENT "Embedding CUDA fatbins" VERBATIM)
list(APPEND SEER_CUDA_SOURCES ${SEER_CUDA_FATBIN_C})
