// lists
"use strict";
