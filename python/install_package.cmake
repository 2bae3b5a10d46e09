# The install step of the Python package (python/CMakeLists.txt sets DEVICELOGIN_PYTHON_VERSION,
# _FILES, _NATIVE, _STRIP and _EXECUTABLE before it): the package goes where Debian's python3
# imports from for the prefix of this install, which is only known now (`cmake --install
# --prefix`, CPack's /usr).
cmake_path(SET prefix NORMALIZE "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "(.)/+$" "\\1" prefix "${prefix}")
if(prefix STREQUAL "/usr")
  set(site_packages "${prefix}/lib/python3/dist-packages")  # Debian's packages' (any python3)
else()
  # What Debian's python3 reads for /usr/local (sys.path), and site.getsitepackages([prefix])
  # names for any other prefix.
  set(site_packages "${prefix}/lib/python${DEVICELOGIN_PYTHON_VERSION}/dist-packages")
endif()
set(package "${site_packages}/devicelogin")
file(INSTALL DESTINATION "${package}" TYPE FILE FILES ${DEVICELOGIN_PYTHON_FILES})
# As the wheel carries them, with the RUNPATH $ORIGIN (never rewritten); mode 0644 (Debian's for a
# shared library); stripped when the install strips (`--strip`, CPack).
file(INSTALL DESTINATION "${package}" TYPE SHARED_LIBRARY FILES ${DEVICELOGIN_PYTHON_NATIVE})
if(CMAKE_INSTALL_DO_STRIP AND DEVICELOGIN_PYTHON_STRIP)
  foreach(native IN LISTS DEVICELOGIN_PYTHON_NATIVE)
    cmake_path(GET native FILENAME name)
    execute_process(COMMAND "${DEVICELOGIN_PYTHON_STRIP}" "$ENV{DESTDIR}${package}/${name}"
      COMMAND_ERROR_IS_FATAL ANY)
  endforeach()
endif()
# The bytecode, which a user cannot write into a system directory: without it every import
# compiles the package again (several ms, beyond what `import devicelogin` may cost). Compiled for
# the final path (-d), without DESTDIR, so that tracebacks name it.
if(DEVICELOGIN_PYTHON_EXECUTABLE AND EXISTS "${DEVICELOGIN_PYTHON_EXECUTABLE}")
  execute_process(COMMAND "${DEVICELOGIN_PYTHON_EXECUTABLE}" -m compileall -q -d "${package}" "$ENV{DESTDIR}${package}"
    COMMAND_ERROR_IS_FATAL ANY)
  file(GLOB bytecode "$ENV{DESTDIR}${package}/__pycache__/*.pyc")
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES ${bytecode})
endif()
