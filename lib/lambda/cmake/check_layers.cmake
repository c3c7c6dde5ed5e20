# The header layering, checked (ctest: layering): a file of a layer includes only its own layer's headers
# and those of the layers below it.
#   core    -> core                    (pure: no I/O, no AWS, no runtime)
#   aws     -> core, aws
#   runtime -> core, runtime
#   app     -> every layer but api
#   api     -> every layer (the API function over the app's ports)
# Run as: cmake -DTAP_ROOT=<lib/lambda> -P check_layers.cmake (fails listing each offending include).
cmake_minimum_required(VERSION 3.25)
if(NOT TAP_ROOT)
  message(FATAL_ERROR "check_layers.cmake: pass -DTAP_ROOT=<lib/lambda>")
endif()
set(allowed_core core)
set(allowed_aws core aws)
set(allowed_runtime core runtime)
set(allowed_app core aws runtime app)
set(_layers core aws runtime app api)

set(_violations "")
foreach(layer IN ITEMS core aws runtime app)
  file(GLOB _files ${TAP_ROOT}/include/tap/${layer}/*.hpp ${TAP_ROOT}/src/${layer}/*.hpp
                   ${TAP_ROOT}/src/${layer}/*.cpp)
  if(NOT _files)
    list(APPEND _violations "no files found for layer ${layer} under ${TAP_ROOT}")
  endif()
  foreach(path IN LISTS _files)
    file(STRINGS ${path} _includes REGEX "^#include \"tap/")
    foreach(line IN LISTS _includes)
      string(REGEX MATCH "\"tap/([a-z_]+)/" _ ${line})
      set(target ${CMAKE_MATCH_1})
      if(NOT target IN_LIST _layers)
        list(APPEND _violations "${path}: ${line} (no layer directory)")
      elseif(NOT target IN_LIST allowed_${layer})
        list(APPEND _violations "${path}: ${line} (${layer} may include only: ${allowed_${layer}})")
      endif()
    endforeach()
  endforeach()
endforeach()

# Every public header sits in a layer directory.
file(GLOB _flat ${TAP_ROOT}/include/tap/*.hpp)
foreach(path IN LISTS _flat)
  list(APPEND _violations "${path}: outside include/tap/{core,aws,runtime,app,api}/")
endforeach()

if(_violations)
  list(JOIN _violations "\n  " _text)
  message(FATAL_ERROR "layering violations:\n  ${_text}")
endif()
message(STATUS "layering: ok")
