// record
"use strict";
