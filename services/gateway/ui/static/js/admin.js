// admin
"use strict";
