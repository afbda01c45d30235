/* Where an installed netspace keeps the files it ships. */
#ifndef NS_PATHS_H
#define NS_PATHS_H

/* The share folder of the installation this binary belongs to: PREFIX/share/netspace, with
 * spaces/ and experiments/ in it (CMake's install rules). Found beside the running binary
 * (BIN/../share/netspace, so a prefix chosen at install time works), else the folder
 * compiled in for the configured prefix (whether it exists or not). Never NULL; the string
 * is static. Computed on the first call: make that call before starting threads. */
const char *ns_share_dir(void);

#endif
