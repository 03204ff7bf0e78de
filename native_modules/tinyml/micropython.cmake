# _tinyml user C module for CMake-based ports (rp2, esp32).
add_library(usermod_tinyml INTERFACE)

set(TINYML_NATIVE_DIR ${CMAKE_CURRENT_LIST_DIR}/..)
file(GLOB TINYML_GLUE_SRC ${CMAKE_CURRENT_LIST_DIR}/*.c)
file(GLOB TINYML_CORE_SRC
    ${TINYML_NATIVE_DIR}/core/*.c
    ${TINYML_NATIVE_DIR}/runtime/*.c
    ${TINYML_NATIVE_DIR}/runtime/*/*.c
    ${TINYML_NATIVE_DIR}/frontend/*.c)

target_sources(usermod_tinyml INTERFACE ${TINYML_GLUE_SRC} ${TINYML_CORE_SRC})

target_include_directories(usermod_tinyml INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
    ${TINYML_NATIVE_DIR}/core
    ${TINYML_NATIVE_DIR}/runtime
    ${TINYML_NATIVE_DIR}/frontend)

# Model-aware firmware (mpyml build --model/--ops), as in micropython.mk: a
# header selecting the kernels registered in runtime/kernels/tml_registry.c,
# and the runtime's size switches as compiler flags.
if(TINYML_OPS_HEADER)
    target_compile_definitions(usermod_tinyml INTERFACE TML_OPS_HEADER="${TINYML_OPS_HEADER}")
endif()
if(TINYML_CFLAGS)
    separate_arguments(TINYML_CFLAGS_LIST UNIX_COMMAND "${TINYML_CFLAGS}")
    target_compile_options(usermod_tinyml INTERFACE ${TINYML_CFLAGS_LIST})
endif()

target_link_libraries(usermod INTERFACE usermod_tinyml)
