# Writes OUT, a header naming the git commit of the source tree SRC, at every build (so a
# commit without a re-configure still shows), rewriting it only when it changes.
#   cmake -DSRC=... -DOUT=... -P version.cmake
set(commit "unknown (not a git checkout)")
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} -C ${SRC} rev-parse --short=12 HEAD
    OUTPUT_VARIABLE hash OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
  if(rc EQUAL 0)
    set(commit ${hash})
    # tracked files changed since that commit, other than results/ (the committed study
    # dbs, which a running study writes: not the source of the binary)
    execute_process(COMMAND ${GIT_EXECUTABLE} -C ${SRC} diff --quiet HEAD -- . :^results
      RESULT_VARIABLE dirty ERROR_QUIET)
    if(NOT dirty EQUAL 0)
      set(commit "${hash}, with uncommitted changes")
    endif()
  endif()
endif()
set(text "#define NS_GIT_COMMIT \"${commit}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE ${OUT} "${text}")
endif()
