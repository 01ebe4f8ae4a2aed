# Run at build time (not configure time) so that --version and
# propwatch_build_info name the commit actually built:
#   cmake -DSOURCE_DIR=... -DOUT=.../revision.h [-DREVISION=...] -P revision.cmake
# Rewrites OUT only when the revision changed, so an unchanged tree rebuilds
# nothing.
if(NOT REVISION)
  execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY ${SOURCE_DIR}
                  OUTPUT_VARIABLE REVISION OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0 OR NOT REVISION)
    set(REVISION unknown)
  else()
    execute_process(COMMAND git status --porcelain --untracked-files=no WORKING_DIRECTORY ${SOURCE_DIR}
                    OUTPUT_VARIABLE dirty OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(dirty)
      set(REVISION "${REVISION}-dirty")
    endif()
  endif()
endif()
set(content "#define PROPWATCH_REVISION \"${REVISION}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${content}")
  file(WRITE ${OUT} "${content}")
endif()
