/* The model config as a jansson object, for the modules that read and write JSON files
 * (space, search, store, cli). Kept apart from model.h so that src/nn, which includes
 * model.h, knows nothing about JSON. */
#ifndef NS_CONFIG_JSON_H
#define NS_CONFIG_JSON_H

#include <jansson.h>

#include "model/model.h"

/* The canonical JSON (ns_config_to_json) as a new jansson object (caller json_decref's), or
 * NULL with ns_err. */
json_t *ns_config_to_jansson(const struct ns_config *c);
/* Read a config from a jansson object: the rules of ns_config_from_json. */
int ns_config_from_jansson(const json_t *j, struct ns_config *out);

#endif
