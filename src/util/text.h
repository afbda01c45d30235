/* Text from outside (a db, a command line) on its way to a terminal or a file format that
 * must stay well-formed. */
#ifndef NS_TEXT_H
#define NS_TEXT_H

/* 1 when s is valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
int ns_utf8_valid(const char *s);
/* A malloc'd copy of s with every byte that is not part of a valid UTF-8 sequence replaced
 * by U+FFFD; NULL when out of memory. */
char *ns_utf8_repair(const char *s);

#endif
