// live
"use strict";
