// tools
"use strict";
