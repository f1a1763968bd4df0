// documents
"use strict";
